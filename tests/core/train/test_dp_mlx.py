"""DP-SGD LoRA training on MLX (Linux CPU through mlx[cpu]) with the real bundled model.

The data is tinyshakespeare split by position (the ``corpus`` fixture of ``conftest.py``):
training lines from the first 90%, held-out lines from the last 10%. MLX on this CPU is
several times slower than torch even with the system OpenBLAS (``core/llm/mlx_blas.py``),
so the runs are small: short lines, LoRA on the last two blocks, one epoch; yet at ε = 8 the
held-out loss must fall clearly.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from persona.core.llm.mlx_blas import use_system_blas

use_system_blas()  # must run before mlx.core is first imported (see core/llm/mlx_blas.py)

import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

import persona.core.train.dp_mlx as dp_mlx  # noqa: E402
from persona.core.errors import ModelError, TextError  # noqa: E402
from persona.core.llm.adapters import adapter_format  # noqa: E402
from persona.core.train import averaging  # noqa: E402
from persona.core.train.checkpoint import load_checkpoint  # noqa: E402
from persona.core.train.config import LoRAConfig, TrainConfig  # noqa: E402
from persona.core.train.dataset import TrainingExample  # noqa: E402
from persona.core.train.dp_mlx import heldout_loss_mlx, train_mlx  # noqa: E402
from tests.core.llm.conftest import SHORT, model_folder  # noqa: E402, F401
from tests.core.train.conftest import (  # noqa: E402
    check_noise_only_run,
    check_run_at_epsilon_8,
    crash_at_step_3,
    train_at_epsilon_8,
)

pytest.importorskip("mlx_lm")
pytestmark = pytest.mark.slow

N_TRAIN, N_HELDOUT = 128, 32
MAX_LEN = 16
SAMPLE_RATE = 1 / 8  # 16 examples expected per step
STEPS = 8  # one epoch
LORA = LoRAConfig(rank=8, alpha=16.0, layers=2)
LR = 0.04  # measured: 0.01 barely moves at ε = 8 in 8 steps, 0.1 overshoots
TINY_LORA = LoRAConfig(rank=4, alpha=8.0, layers=1)
RUN_SEED = 2026  # chosen before looking: held-out loss falls by 0.32 (seed 7: 0.33)


@pytest.fixture(scope="module")
def base_loss(model_folder, corpus) -> float:  # noqa: F811
    nll, tokens = heldout_loss_mlx(model_folder, None, corpus[1], max_seq_len=MAX_LEN)
    assert tokens > 250 and 2 < nll < 10
    return nll


@pytest.fixture(scope="module")
def dp_run(model_folder, corpus, tmp_path_factory):  # noqa: F811
    def config(sigma: float, delta: float) -> TrainConfig:
        return TrainConfig(noise_multiplier=sigma, sample_rate=SAMPLE_RATE, steps=STEPS,
                           learning_rate=LR, max_seq_len=MAX_LEN, lora=LORA, delta=delta)

    # The draws come from fixed entropy (RUN_SEED): 8 Adam steps at this σ leave the held-out
    # loss anywhere from 0.08 to 0.39 lower (measured over 9 runs with OS entropy; one CI run
    # fell by 0.075), so a bound that every draw meets would prove little. The noise is still
    # real Gaussian noise at the calibrated σ; only its seed is known.
    with pytest.MonkeyPatch.context() as mp:
        fixed_entropy(mp, RUN_SEED)
        return train_at_epsilon_8(train_mlx, model_folder, corpus[0], config,
                                  tmp_path_factory.mktemp("dp") / "adapter",
                                  sample_rate=SAMPLE_RATE, steps=STEPS)


def tiny(sigma: float, **kw) -> TrainConfig:
    kw.setdefault("sample_rate", 0.5)
    kw.setdefault("steps", 4)
    kw.setdefault("learning_rate", 0.01)
    kw.setdefault("lora", TINY_LORA)
    return TrainConfig(noise_multiplier=sigma, max_seq_len=MAX_LEN, **kw)


def fixed_entropy(monkeypatch, value: int) -> None:
    """Replace the OS entropy behind the Poisson draws and the noise by a fixed number, so
    that two runs can be compared step for step, or one run repeats exactly (the only mock
    here)."""
    monkeypatch.setattr(dp_mlx, "_entropy", lambda bits: value % (1 << bits))


def weights(adapter: Path) -> dict[str, np.ndarray]:
    return load_file(str(adapter / "adapters.safetensors"))


def test_dp_training_at_epsilon_8_lowers_heldout_loss(model_folder, corpus, base_loss,  # noqa: F811
                                                      dp_run):
    check_run_at_epsilon_8(dp_run, sample_rate=SAMPLE_RATE, steps=STEPS)
    result, sigma = dp_run[:2]
    # The adapter is mlx-lm's: B matrices (zero at the start) on q and v of the last 2 blocks.
    assert adapter_format(result.adapter_dir) == "mlx"
    b = {k: w for k, w in weights(result.adapter_dir).items() if k.endswith("lora_b")}
    assert sorted(b) == [f"model.layers.{i}.self_attn.{m}.lora_b"
                         for i in (28, 29) for m in ("q_proj", "v_proj")]
    assert all(np.abs(w).max() > 1e-3 for w in b.values())
    after, tokens = heldout_loss_mlx(model_folder, result.adapter_dir, corpus[1],
                                     max_seq_len=MAX_LEN)
    print(f"MLX DP ε={result.epsilon:.2f} σ={sigma:.3f}: held-out NLL {base_loss:.4f} -> "
          f"{after:.4f} over {tokens} tokens ({result.seconds / STEPS:.1f} s/step, "
          f"{result.tokens / result.seconds:.0f} tokens/s)")
    assert after < base_loss - 0.1  # 0.32 with RUN_SEED


def test_saved_adapter_loads_in_the_mlx_backend_and_changes_it(model_folder, corpus,  # noqa: F811
                                                               dp_run):
    from persona.core.llm.mlx_backend import MLXBackend
    from persona.core.train.nll_mlx import mean_nll
    from persona.core.train.tokens import encode_examples

    result = dp_run[0]
    persona = MLXBackend(model_folder, adapter_dir=result.adapter_dir)
    assert persona.adapter_loaded and persona.adapter_path == result.adapter_dir
    # The backend runs exactly the trained model: its held-out loss is the evaluator's.
    encoded = encode_examples(persona.tokenizer, corpus[1], MAX_LEN)
    nll, _ = mean_nll(persona.model, encoded, pad_id=2)
    after, _ = heldout_loss_mlx(model_folder, result.adapter_dir, corpus[1],
                                max_seq_len=MAX_LEN)
    assert nll == pytest.approx(after, abs=1e-4)
    base = MLXBackend(model_folder)
    assert not base.adapter_loaded
    diff = np.abs(persona.next_token_logits(SHORT) - base.next_token_logits(SHORT)).max()
    assert diff > 0.05


def test_stop_checkpoint_and_resume_continue_the_same_run(model_folder, corpus, tmp_path,  # noqa: F811
                                                          monkeypatch):
    examples = corpus[0][:8]
    config = tiny(0.8, checkpoint_every=2)
    fixed_entropy(monkeypatch, 12345)
    whole = train_mlx(model_folder, examples, config, out_dir=tmp_path / "whole")
    assert whole.steps_done == 4 and whole.resumed_from == 0

    # A crash after step 3 (as kill -9 would) loses only what came after the periodic
    # checkpoint of step 2.
    ckpt = tmp_path / "ckpt"
    out = tmp_path / "out"
    crash_at_step_3(train_mlx, model_folder, examples, config, out_dir=out, checkpoint_dir=ckpt)

    # Resume at step 2; a stop is requested before step 4: a checkpoint of step 3 is written.
    steps_seen = []
    stopped = train_mlx(model_folder, examples, config, out_dir=out, checkpoint_dir=ckpt,
                        on_progress=lambda p: steps_seen.append(p.step),
                        should_stop=lambda: len(steps_seen) >= 1)
    assert stopped.stopped and stopped.resumed_from == 2 and stopped.steps_done == 3
    assert load_checkpoint(ckpt).step == 3 and not out.exists()

    done = train_mlx(model_folder, examples, config, out_dir=out, checkpoint_dir=ckpt)
    assert not done.stopped and done.resumed_from == 3 and done.steps_done == 4
    assert not ckpt.exists()  # a finished run deletes its checkpoints
    # Same batches, same noise, same Adam state: the same adapter as the run never stopped.
    assert done.losses == pytest.approx(whole.losses, rel=1e-5, nan_ok=True)
    assert done.tokens == whole.tokens and done.epsilon == pytest.approx(whole.epsilon)
    a, b = weights(whole.adapter_dir), weights(done.adapter_dir)
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-7)


def test_a_checkpoint_of_another_run_is_refused(model_folder, corpus, tmp_path):  # noqa: F811
    examples = corpus[0][:4]
    ckpt = tmp_path / "ckpt"
    first = train_mlx(model_folder, examples, tiny(1.0, steps=2), out_dir=tmp_path / "a",
                      checkpoint_dir=ckpt, should_stop=lambda: True)
    assert first.stopped and first.steps_done == 0
    with pytest.raises(ModelError, match="noise_multiplier"):
        train_mlx(model_folder, examples, tiny(2.0, steps=2), out_dir=tmp_path / "b",
                  checkpoint_dir=ckpt)


def test_sigma_zero_runs_the_same_path_without_noise(model_folder, corpus, tmp_path,  # noqa: F811
                                                     monkeypatch):
    """With q = 1 every example is in every batch, so a run without noise has no randomness
    left: two runs from different secret seeds agree exactly, and ε is infinite. With noise,
    the same seed as one of them gives a different adapter."""
    examples = corpus[0][:4]
    runs = {}
    for name, sigma, seed in (("plain-1", 0.0, 1), ("plain-2", 0.0, 2), ("noisy-2", 1.0, 2)):
        fixed_entropy(monkeypatch, seed)
        progress = []
        runs[name] = train_mlx(model_folder, examples, tiny(sigma, sample_rate=1.0, steps=2),
                               out_dir=tmp_path / name, on_progress=progress.append)
        assert [p.epsilon == math.inf for p in progress] == [sigma == 0] * 2
    assert runs["plain-1"].epsilon == math.inf and runs["noisy-2"].epsilon < math.inf
    plain1, plain2 = weights(runs["plain-1"].adapter_dir), weights(runs["plain-2"].adapter_dir)
    noisy = weights(runs["noisy-2"].adapter_dir)
    for k in plain1:
        assert np.array_equal(plain1[k], plain2[k])
    assert any(not np.allclose(plain2[k], noisy[k]) for k in plain1 if k.endswith("lora_b"))
    assert runs["plain-1"].losses == runs["plain-2"].losses


def test_empty_poisson_batches_still_add_noise(model_folder, corpus, tmp_path):  # noqa: F811
    examples = corpus[0][:8]
    noisy = train_mlx(model_folder, examples, tiny(1.0, sample_rate=1e-9, steps=2),
                      out_dir=tmp_path / "noisy")
    check_noise_only_run(noisy, examples=8)
    b = [w for k, w in weights(noisy.adapter_dir).items() if k.endswith("lora_b")]
    assert all(np.abs(w).max() > 0 for w in b)  # B started at zero: only noise moved it


def test_continues_from_an_earlier_adapter(model_folder, corpus, tmp_path, dp_run):  # noqa: F811
    """A run that continues keeps the earlier adapter's layout (its layers and rank win over
    the config's) and starts from its weights: with σ = 0 and a zero learning rate nothing
    moves, so the result equals the start. Adam goes on from the state the earlier run left
    beside its adapter (its step counter continues) at this run's learning rate."""
    start = dp_run[0].adapter_dir
    result = train_mlx(model_folder, corpus[0][:4],
                       tiny(0.0, steps=1, learning_rate=0.0), out_dir=tmp_path / "next",
                       init_adapter=start)
    a, b = weights(start), weights(result.adapter_dir)
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert result.optimizer_continued
    assert adam_step(result.adapter_dir) == adam_step(start) + 1 == dp_run[0].steps + 1


def test_a_private_run_goes_on_from_the_last_iterate_and_averages(model_folder, corpus,  # noqa: F811
                                                                  tmp_path, dp_run):
    """The DP run published the average of its iterates and left the last beside it; a
    private run that continues at a zero learning rate stays at that last iterate and
    publishes the average moved towards it by the next weight."""
    start = dp_run[0].adapter_dir
    last, steps = averaging.read(start / averaging.ITERATE_FILE)
    assert steps == dp_run[0].steps
    published = weights(start)
    assert sorted(last) == sorted(published)
    assert any(not np.allclose(last[k], published[k]) for k in last)
    result = train_mlx(model_folder, corpus[0][:4], tiny(1.0, steps=1, learning_rate=0.0),
                       out_dir=tmp_path / "next", init_adapter=start)
    assert result.optimizer_continued
    still, count = averaging.read(result.adapter_dir / averaging.ITERATE_FILE)
    assert count == steps + 1
    w = averaging.weight(steps + 1)
    got = weights(result.adapter_dir)
    for k in last:
        np.testing.assert_array_equal(still[k], last[k])
        np.testing.assert_allclose(got[k], published[k] + w * (last[k] - published[k]),
                                   rtol=1e-5, atol=1e-7)


def adam_step(adapter: Path) -> int:
    return int(load_file(str(adapter / "optimizer.safetensors"))["step"])


def test_bad_input_is_refused_with_a_clear_error(model_folder, tmp_path):  # noqa: F811
    with pytest.raises(TextError, match="no token to learn|has a token"):
        train_mlx(model_folder, [TrainingExample("r", "", "")], tiny(1.0),
                  out_dir=tmp_path / "x")
    with pytest.raises(ModelError, match="only has 30"):
        train_mlx(model_folder, [TrainingExample("r", "", "words")],
                  tiny(1.0, lora=LoRAConfig(layers=31)), out_dir=tmp_path / "x")
    with pytest.raises(ModelError, match="o_proj"):
        train_mlx(model_folder, [TrainingExample("r", "", "words")],
                  tiny(1.0, lora=LoRAConfig(target_modules=("qq_proj",))),
                  out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()
