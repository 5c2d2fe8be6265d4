"""DP-SGD LoRA training on torch (Opacus) with the real bundled model on real text.

The data is tinyshakespeare split by position (the ``corpus`` fixture of ``conftest.py``):
the training lines come from the first 90%, the held-out lines from the last 10%. The runs
are small (short lines, LoRA on the last blocks, one or two epochs) so that each test stays
within about a minute and a half on two busy cores, yet the held-out loss must fall, with
noise at ε = 8 and without.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from persona.core.errors import ModelError, TextError
from persona.core.train import averaging, optimizer_state
from persona.core.train.checkpoint import load_checkpoint
from persona.core.train.config import LoRAConfig, TrainConfig
from persona.core.train.dataset import TrainingExample
from persona.core.train.dp_torch import ADAM_EPS, heldout_loss_torch, train_torch
from persona.privacy.rdp import default_delta, run_epsilon
from tests.core.llm.conftest import model_folder  # noqa: F401  (the session fixture)
from tests.core.train.conftest import (
    check_noise_only_run,
    check_run_at_epsilon_8,
    crash_at_step_3,
    train_at_epsilon_8,
)

pytestmark = pytest.mark.slow

N_TRAIN, N_HELDOUT = 256, 64
MAX_LEN = 32
EPOCHS = 1
SAMPLE_RATE = 1 / 8  # an expected batch of 32 lines
STEPS = round(EPOCHS / SAMPLE_RATE)
LORA = LoRAConfig(rank=8, alpha=16.0, layers=4)
# Measured on this slice (held-out NLL 6.76 at base): AdamW at 2e-2 lost 0.79 nats at ε = 8,
# at 1e-2 only 0.20 (0.76 without noise); SGD at 0.5 lost 0.56.
LR = 2e-2


@pytest.fixture(scope="module")
def base_loss(model_folder, corpus) -> float:  # noqa: F811
    nll, tokens = heldout_loss_torch(model_folder, None, corpus[1], max_seq_len=MAX_LEN)
    assert tokens > 500 and 2 < nll < 10
    return nll


def config(sigma: float, **kw) -> TrainConfig:
    kw.setdefault("sample_rate", SAMPLE_RATE)
    kw.setdefault("steps", STEPS)
    return TrainConfig(noise_multiplier=sigma, learning_rate=kw.pop("learning_rate", LR),
                       max_seq_len=MAX_LEN, lora=kw.pop("lora", LORA), **kw)


def adapter_weights(folder: Path) -> dict[str, np.ndarray]:
    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def dp_run(model_folder, corpus, tmp_path_factory):  # noqa: F811
    return train_at_epsilon_8(train_torch, model_folder, corpus[0],
                              lambda sigma, delta: config(sigma, delta=delta),
                              tmp_path_factory.mktemp("dp") / "adapter",
                              sample_rate=SAMPLE_RATE, steps=STEPS)


@pytest.fixture(scope="module")
def plain_run(model_folder, corpus, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("plain") / "adapter"
    return train_torch(model_folder, corpus[0], config(0.0), out_dir=out)


def test_dp_training_at_epsilon_8_lowers_heldout_loss(model_folder, corpus, base_loss,  # noqa: F811
                                                      dp_run):
    check_run_at_epsilon_8(dp_run, sample_rate=SAMPLE_RATE, steps=STEPS)
    result, sigma = dp_run[:2]
    # The pitfall (opacus #820): the LoRA B matrices must really have moved away from zero.
    weights = adapter_weights(result.adapter_dir)
    b = [w for name, w in weights.items() if "lora_B" in name]
    assert len(b) == 2 * LORA.layers and all(np.abs(w).max() > 1e-3 for w in b)
    after, tokens = heldout_loss_torch(model_folder, result.adapter_dir, corpus[1],
                                       max_seq_len=MAX_LEN)
    print(f"DP ε={result.epsilon:.2f} σ={sigma:.3f}: held-out NLL {base_loss:.4f} -> "
          f"{after:.4f} ({result.seconds / STEPS:.1f} s/step, "
          f"{result.tokens / result.seconds:.0f} tokens/s)")
    assert after < base_loss - 0.05


def test_non_private_training_lowers_heldout_loss(model_folder, corpus, base_loss,  # noqa: F811
                                                  plain_run):
    assert plain_run.epsilon == math.inf
    after, _ = heldout_loss_torch(model_folder, plain_run.adapter_dir, corpus[1],
                                  max_seq_len=MAX_LEN)
    print(f"non-private: held-out NLL {base_loss:.4f} -> {after:.4f}")
    assert after < base_loss - 0.1


def clipped_directions(model_folder: Path, examples, clip: float):  # noqa: F811
    """Each example's LoRA gradient (of its mean target NLL) at the start of a run, computed
    one example at a time without Opacus, clipped to ``clip``; and the examples' target
    token counts. At the start B = 0, so only the B matrices have a gradient."""
    import torch

    from persona.core.evaluate.perplexity import pad_batch, target_nll_torch
    from persona.core.train.lora import lora_model, trainable_parameters
    from persona.core.train.tokens import encode_examples

    model, tokenizer = lora_model(model_folder, LORA, seed=0)  # the trainer's own start
    params = trainable_parameters(model)
    rows, tokens = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the trainer: one thread is faster on two busy cores
    for e in encode_examples(tokenizer, examples, MAX_LEN):
        model.zero_grad()
        nll, mask = target_nll_torch(model, *pad_batch([e], 0))
        (nll.sum() / mask.sum()).backward()
        assert all(float(p.grad.abs().max()) == 0 for name, p in params if "lora_A" in name)
        g = torch.cat([p.grad.flatten() for name, p in params if "lora_B" in name])
        assert float(g.norm()) > 1e3 * clip  # far above C: every example is clipped
        rows.append((g * clip / g.norm()).double().numpy())
        tokens.append(e.target_tokens)
    torch.set_num_threads(threads)
    return np.stack(rows), np.array(tokens), [name for name, _ in params if "lora_B" in name]


def trained_gradient(adapter: Path, names: list[str], lr: float) -> np.ndarray:
    """The gradient that AdamW's first step applied to B (which starts at zero): the step is
    Δ = -lr·g/(|g| + eps) per coordinate, so g = -Δ·eps/(lr - |Δ|)."""
    weights = adapter_weights(adapter)
    delta = np.concatenate([weights[n.replace(".default", "")].ravel() for n in names])
    delta = delta.astype(np.float64)
    assert np.abs(delta).max() < lr
    return -delta * ADAM_EPS / (lr - np.abs(delta))


def test_dp_step_is_clip_sum_and_divide_by_expected_batch(model_folder, corpus,  # noqa: F811
                                                          tmp_path):
    """One DP-SGD step without noise, checked against the definition computed apart: the
    applied gradient is the sum of the sampled examples' gradients, each clipped to C,
    divided by q·n (the expected batch size, not the realised one).

    The sampled batch is not visible from outside, so it is recovered: the applied gradient
    times q·n/C is a combination of the examples' clipped unit directions, and the
    coefficients must each be 0 or 1 (1 for the examples in the batch). Dividing by the
    realised batch size, or not clipping, would give other coefficients."""
    # About 18 of 24 examples per batch: several micro-batches make up one Poisson batch.
    clip, lr, q = 1e-12, 1e-3, 0.75
    # Distinct lines: a repeated line ("All:") has the same direction, so only its count in
    # the batch could be recovered, not which copy was drawn.
    examples = list({ex.target: ex for ex in corpus[0][:60]}.values())[:24]
    directions, tokens, names = clipped_directions(model_folder, examples, clip)
    result = train_torch(model_folder, examples,
                         config(0.0, sample_rate=q, steps=1, clip_norm=clip, learning_rate=lr),
                         out_dir=tmp_path / "adapter")
    g = trained_gradient(result.adapter_dir, names, lr)
    coef, *_ = np.linalg.lstsq(directions.T / clip, g * q * len(examples) / clip, rcond=None)
    chosen = coef > 0.5
    assert np.abs(coef - chosen).max() < 1e-3, coef.round(4)
    assert chosen.sum() > 8  # more than one micro-batch (P(not) = 2e-5)
    assert result.tokens == tokens[chosen].sum()  # the same examples, by their token counts
    # And the step is no larger than the bound a clipped step allows: ||g|| <= C / q.
    assert np.linalg.norm(g) <= clip / q * (1 + 1e-4)


def test_empty_poisson_batches_still_add_noise(model_folder, corpus, tmp_path):  # noqa: F811
    """With q so small that no example ever joins, a private step is pure noise and a
    non-private one changes nothing; both are still counted as steps."""
    examples = corpus[0][:16]
    noisy = train_torch(model_folder, examples, config(1.0, sample_rate=1e-9, steps=2),
                        out_dir=tmp_path / "noisy")
    check_noise_only_run(noisy, examples=16)
    b = [w for name, w in adapter_weights(noisy.adapter_dir).items() if "lora_B" in name]
    assert all(np.abs(w).min() > 0 for w in b)  # every coordinate got noise
    quiet = train_torch(model_folder, examples, config(0.0, sample_rate=1e-9, steps=2),
                        out_dir=tmp_path / "quiet")
    b = [w for name, w in adapter_weights(quiet.adapter_dir).items() if "lora_B" in name]
    assert all(np.abs(w).max() == 0 for w in b)


def test_stop_checkpoint_and_resume(model_folder, corpus, tmp_path):  # noqa: F811
    examples, ckpt, out = corpus[0][:32], tmp_path / "ckpt", tmp_path / "adapter"
    cfg = config(0.8, sample_rate=0.25, steps=4, checkpoint_every=100)
    progress = []
    first = train_torch(model_folder, examples, cfg, out_dir=out, checkpoint_dir=ckpt,
                        on_progress=progress.append, should_stop=lambda: len(progress) >= 2)
    assert first.stopped and first.steps_done == 2 and first.resumed_from == 0
    assert not out.exists()  # nothing is promoted from a stopped run
    saved = load_checkpoint(ckpt)
    assert saved.step == 2 and set(saved.files) == {"adapter.safetensors", "optimizer.pt",
                                                    "rng.json", averaging.AVERAGE_FILE}
    second = train_torch(model_folder, examples, cfg, out_dir=out, checkpoint_dir=ckpt)
    assert not second.stopped and second.resumed_from == 2
    assert second.steps_done == 4 and len(second.losses) == 4
    np.testing.assert_array_equal(second.losses[:2], first.losses)
    assert second.tokens > first.tokens
    # The accountant went on from the checkpoint: ε is that of all four steps.
    assert second.epsilon == pytest.approx(run_epsilon(
        noise_multiplier=0.8, sample_rate=0.25, steps=4, delta=default_delta(32)), rel=1e-9)
    assert not ckpt.exists()  # a finished run leaves no checkpoint behind
    assert (out / "adapter_model.safetensors").is_file()


def test_checkpoint_of_a_crashed_run_resumes(model_folder, corpus, tmp_path):  # noqa: F811
    """A run dies after step 2 (``conftest.crash_at_step_3``). Its periodic checkpoint at
    step 2 is resumed by the next call of the same run only."""
    examples, ckpt, out = corpus[0][:32], tmp_path / "ckpt", tmp_path / "adapter"
    cfg = config(0.8, sample_rate=0.25, steps=3, checkpoint_every=2)
    crash_at_step_3(train_torch, model_folder, examples, cfg, out_dir=out, checkpoint_dir=ckpt)
    with pytest.raises(ModelError, match="noise_multiplier is 0.8, this run's is 0.5"):
        train_torch(model_folder, examples, replace(cfg, noise_multiplier=0.5), out_dir=out,
                    checkpoint_dir=ckpt)
    result = train_torch(model_folder, examples, cfg, out_dir=out, checkpoint_dir=ckpt)
    assert result.resumed_from == 2 and result.steps_done == 3 and len(result.losses) == 3
    assert not ckpt.exists() and out.is_dir()


def test_saved_adapter_loads_in_the_torch_backend(model_folder, plain_run,  # noqa: F811
                                                  tmp_path):
    from persona.core.llm.adapters import adapter_format, peft_to_mlx
    from persona.core.llm.torch_backend import TorchBackend

    question = [{"role": "user", "content": "What says the king?"}]
    base = TorchBackend(model_folder).next_token_logits(question)
    backend = TorchBackend(model_folder, adapter_dir=plain_run.adapter_dir)
    assert backend.adapter_loaded
    tuned = backend.next_token_logits(question)
    assert np.abs(tuned - base).max() > 1e-2
    # The same adapter converts for the MLX backend (LoRA on a tail of blocks).
    mlx = peft_to_mlx(plain_run.adapter_dir, tmp_path / "mlx", num_hidden_layers=30)
    assert adapter_format(mlx) == "mlx"


def without_optimizer_state(adapter: Path, tmp_path: Path) -> Path:
    """A copy of ``adapter`` with the optimiser state its run left removed."""
    copy = tmp_path / "bare" / adapter.name
    shutil.copytree(adapter, copy)
    optimizer_state.strip(copy)
    return copy


def adam_steps(adapter: Path) -> set[int]:
    """The step counters of AdamW's state saved beside ``adapter``."""
    import torch

    saved = torch.load(adapter / "optimizer.pt", weights_only=True)
    return {int(s["step"]) for s in saved["state"].values()}


def test_continue_from_an_adapter(model_folder, corpus, plain_run, tmp_path):  # noqa: F811
    """One step of a fresh AdamW moves no weight by more than lr: the run starts from the
    given adapter's weights (and keeps its rank and blocks, whatever ``config.lora`` says)."""
    lr = 1e-4
    start = without_optimizer_state(plain_run.adapter_dir, tmp_path)
    result = train_torch(model_folder, corpus[0][:32],
                         config(0.0, sample_rate=0.5, steps=1, learning_rate=lr,
                                lora=LoRAConfig(rank=2)),
                         out_dir=tmp_path / "next", init_adapter=start)
    assert not result.optimizer_continued
    before, after = adapter_weights(plain_run.adapter_dir), adapter_weights(result.adapter_dir)
    assert before.keys() == after.keys()
    diff = max(np.abs(after[k] - before[k]).max() for k in before)
    assert 0 < diff <= lr * (1 + 1e-3)
    assert all(after[k].shape == before[k].shape for k in before)  # rank 8, not 2


def test_the_optimizer_goes_on_from_the_state_its_adapter_left(model_folder, corpus,  # noqa: F811
                                                                plain_run, tmp_path):
    """A finished run leaves AdamW's state beside its adapter; a run that continues the
    adapter goes on with it (the step counter continues) at its own learning rate, and one
    that finds no state, or a state for other parameters, starts afresh."""
    import torch

    assert not plain_run.optimizer_continued and adam_steps(plain_run.adapter_dir) == {STEPS}
    cfg = config(0.5, sample_rate=0.25, steps=2, learning_rate=LR / 2)
    went_on = train_torch(model_folder, corpus[0][:32], cfg, out_dir=tmp_path / "on",
                          init_adapter=plain_run.adapter_dir)
    assert went_on.optimizer_continued and adam_steps(went_on.adapter_dir) == {STEPS + 2}
    saved = torch.load(went_on.adapter_dir / "optimizer.pt", weights_only=True)
    assert {g["lr"] for g in saved["param_groups"]} == {LR / 2}

    fresh = train_torch(model_folder, corpus[0][:32], cfg, out_dir=tmp_path / "fresh",
                        init_adapter=without_optimizer_state(plain_run.adapter_dir, tmp_path))
    assert not fresh.optimizer_continued and adam_steps(fresh.adapter_dir) == {2}

    other = tmp_path / "other"
    shutil.copytree(plain_run.adapter_dir, other)
    described = json.loads((other / optimizer_state.META).read_text())
    described["parameters"][0][1][0] += 1  # saved for another LoRA layout
    (other / optimizer_state.META).write_text(json.dumps(described))
    mismatched = train_torch(model_folder, corpus[0][:32], cfg, out_dir=tmp_path / "m",
                             init_adapter=other)
    assert not mismatched.optimizer_continued and adam_steps(mismatched.adapter_dir) == {2}


def test_padding_carries_no_loss(model_folder, corpus):  # noqa: F811
    """Batched (right-padded) and one-by-one evaluation give the same NLL, and a prompt's
    tokens are context, not loss."""
    from persona.core.evaluate.perplexity import mean_nll_torch
    from persona.core.train.lora import load_base
    from persona.core.train.tokens import encode_examples

    model, tokenizer = load_base(model_folder)
    model.eval()
    examples = [TrainingExample(f"p{i}", "Person:\n" if i % 2 else "", ex.target)
                for i, ex in enumerate(corpus[1][:6])]
    encoded = encode_examples(tokenizer, examples, MAX_LEN)
    assert len({len(e.ids) for e in encoded}) > 2  # lengths differ: padding happens
    one = mean_nll_torch(model, encoded, pad_id=0, batch_size=1)
    batched = mean_nll_torch(model, encoded, pad_id=0, batch_size=6)
    assert batched.tokens == one.tokens == sum(e.target_tokens for e in encoded)
    assert batched.nll == pytest.approx(one.nll, rel=1e-4)

    # Per example (the membership audit's scores): in the caller's order, whatever the
    # batching, and an example listed twice scores twice.
    from persona.core.evaluate.perplexity import example_nll_torch

    alone = [example_nll_torch(model, [e], pad_id=0)[0] for e in encoded]
    listed = [*encoded, encoded[0]]
    together = example_nll_torch(model, listed, pad_id=0, batch_size=6)
    assert [p.tokens for p in together] == [e.target_tokens for e in listed]
    assert [p.nll for p in together] == pytest.approx([p.nll for p in alone + alone[:1]],
                                                      rel=1e-4)
    assert len({round(p.nll, 3) for p in alone}) > 3  # the examples really differ


def test_bad_input(model_folder, corpus, tmp_path):  # noqa: F811
    with pytest.raises(TextError, match="no training examples"):
        train_torch(model_folder, [], config(1.0), out_dir=tmp_path / "a")
    with pytest.raises(ModelError, match="holds no peft adapter"):
        train_torch(model_folder, corpus[0][:4], config(1.0), out_dir=tmp_path / "a",
                    init_adapter=tmp_path)
    with pytest.raises(ModelError, match="train 31 layers but the model only has 30"):
        train_torch(model_folder, corpus[0][:4], config(1.0, lora=LoRAConfig(layers=31)),
                    out_dir=tmp_path / "a")
    empty = [TrainingExample("x", "", "")]
    with pytest.raises(TextError, match="None of the 1 training examples"):
        train_torch(model_folder, empty, config(1.0), out_dir=tmp_path / "a")
    with pytest.raises(TextError, match="held-out examples"):
        heldout_loss_torch(model_folder, None, empty)
    assert not (tmp_path / "a").exists()


def test_a_private_run_publishes_its_average_and_goes_on_from_its_last_iterate(
        model_folder, corpus, tmp_path):  # noqa: F811
    """The adapter of a private run is the average of its iterates, not the last one; the
    last goes beside the optimiser's state, and the run that continues the adapter trains on
    from it (one step at a tiny rate moves it by at most that rate) and folds its new iterate
    into the average with the next weight."""
    first = train_torch(model_folder, corpus[0][:32], config(0.8, sample_rate=0.25, steps=3),
                        out_dir=tmp_path / "one")
    published = adapter_weights(first.adapter_dir)
    last, steps = averaging.read(first.adapter_dir / averaging.ITERATE_FILE)
    assert steps == 3
    last = {name.replace(".default", ""): w for name, w in last.items()}  # peft's file names
    assert last.keys() == published.keys()
    assert max(np.abs(last[k] - published[k]).max() for k in last) > 1e-4

    lr = 1e-6
    went_on = train_torch(model_folder, corpus[0][:32],
                          config(0.8, sample_rate=0.25, steps=1, learning_rate=lr),
                          out_dir=tmp_path / "two", init_adapter=first.adapter_dir)
    assert went_on.optimizer_continued
    new_last, new_steps = averaging.read(went_on.adapter_dir / averaging.ITERATE_FILE)
    new_last = {name.replace(".default", ""): w for name, w in new_last.items()}
    assert new_steps == 4
    # A continued Adam's step is |m̂ / √v̂| · lr: about lr, at most (1 − β1) / √(1 − β2) · lr.
    assert max(np.abs(new_last[k] - last[k]).max() for k in last) <= 3.2 * lr
    w = averaging.weight(4)
    expected = {k: published[k] + w * (new_last[k] - published[k]) for k in last}
    got = adapter_weights(went_on.adapter_dir)
    assert max(np.abs(got[k] - expected[k]).max() for k in last) < 1e-6
