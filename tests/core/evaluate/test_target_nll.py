"""target_nll_torch projects onto the vocabulary at target positions only: the same NLL and
the same per-example gradients as the whole logits, computed in float64, with prompts and
padding in the batch (real model: the tests' small Llama, real LoRA, real Opacus hooks)."""

from __future__ import annotations

import pytest

from persona.core.train.config import LoRAConfig
from persona.core.train.dataset import TrainingExample
from tests.core.llm.conftest import make_peft_adapter, model_folder  # noqa: F401

MAX_LEN = 48
TEXTS = ["The river was high after the rain, and the ferry waited on the far bank.",
         "I keep my notes in a paper diary.",
         "Tomorrow I will walk to the market early, before it gets crowded and loud.",
         "Call me."]


def examples() -> list[TrainingExample]:
    # Half with a prompt (context, not loss) and lengths that differ: padding happens.
    return [TrainingExample(f"r{i}", "Person:\n" if i % 2 else "", t)
            for i, t in enumerate(TEXTS)]


def reference_nll(model, ids, attention, target):
    """The whole logits, the cross-entropy in float64: what the NLL is by definition."""
    import torch.nn.functional as F

    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].double()
    mask = target[:, 1:]
    return F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none") * mask, mask


def per_example_grads(gsm, params, nll_fn, batch):
    from persona.core.evaluate.perplexity import pad_batch

    nll, mask = nll_fn(gsm, *pad_batch(batch, 0))
    per_example = nll.sum(1) / mask.sum(1)
    per_example.sum().backward()
    grads = [p.grad_sample.double().clone() for p in params]
    for p in params:
        p.grad_sample = None
        p.grad = None
    return per_example.detach().double(), mask, grads


def test_target_positions_only_give_the_nll_and_gradients_of_the_whole_logits(
        model_folder, tmp_path):  # noqa: F811
    import torch
    from opacus import GradSampleModule

    from persona.core.evaluate.perplexity import target_nll_torch
    from persona.core.train.lora import lora_model
    from persona.core.train.tokens import encode_examples

    init = make_peft_adapter(model_folder, tmp_path / "init", seed=3)  # B ≠ 0: real grads
    model, tokenizer = lora_model(model_folder, LoRAConfig(rank=4, alpha=8.0),
                                  init_adapter=init, seed=0)
    gsm = GradSampleModule(model, batch_first=True, loss_reduction="sum", strict=True)
    params = [p for p in model.parameters() if p.requires_grad]
    batch = encode_examples(tokenizer, examples(), MAX_LEN)
    assert len({len(e.ids) for e in batch}) > 2  # lengths differ: padding happens
    assert any(e.target_start > 0 for e in batch)

    fast, fast_mask, fast_grads = per_example_grads(gsm, params, target_nll_torch, batch)
    ref, ref_mask, ref_grads = per_example_grads(gsm, params, reference_nll, batch)
    assert torch.equal(fast_mask, ref_mask)
    assert (fast - ref).abs().max().item() < 1e-4
    for a, b in zip(fast_grads, ref_grads, strict=True):
        assert a.shape[0] == len(batch)
        assert ((a - b).norm() / b.norm()).item() < 1e-4


def test_nll_is_zero_off_target_and_other_architectures_use_the_whole_logits(
        model_folder):  # noqa: F811
    """A model class not known to be lm_head(decoder(x)) goes the long way (all its logits),
    to the same numbers, as does ``whole_logits``."""
    import torch

    from persona.core.evaluate.perplexity import pad_batch, target_nll_torch
    from persona.core.train.lora import load_base
    from persona.core.train.tokens import encode_examples

    model, tokenizer = load_base(model_folder)
    model.eval()
    padded = pad_batch(encode_examples(tokenizer, examples(), MAX_LEN), 0)
    with torch.inference_mode():
        fast, mask = target_nll_torch(model, *padded)
        ref, _ = reference_nll(model, *padded)
        whole, _ = target_nll_torch(model, *padded, whole_logits=True)
        model.__class__ = type("SoftcappedForCausalLM", (type(model),), {})
        long_way, _ = target_nll_torch(model, *padded)
    assert bool((fast[~mask] == 0).all()) and bool((fast[mask] > 0).all())
    assert fast.double().sub(ref).abs().max().item() < 1e-4
    for other in (whole, long_way):
        assert other.double().sub(ref).abs().max().item() < 1e-4


@pytest.mark.parametrize("backend", ["torch", "mlx"])
def test_a_new_way_of_computing_the_nll_measures_the_base_and_current_adapter_afresh(
        monkeypatch, backend):
    """The base model's and current adapter's perplexities kept with an adapter are reused
    only when measured the same way (runner.heldout_digest includes the backend's
    NLL_VERSION); a change on one backend leaves the other's digests alone."""
    from persona.core.evaluate import perplexity
    from persona.core.train import nll_mlx, runner

    heldout = [TrainingExample("r1", "", "A line of held-out text.")]
    before = {b: runner.heldout_digest(heldout, 128, b, base={}, model=None)
              for b in ("torch", "mlx")}
    assert runner.heldout_digest(heldout, 128, backend, base={}, model=None) == before[backend]
    module = nll_mlx if backend == "mlx" else perplexity
    monkeypatch.setattr(module, "NLL_VERSION", module.NLL_VERSION + 1)
    after = {b: runner.heldout_digest(heldout, 128, b, base={}, model=None)
             for b in ("torch", "mlx")}
    assert after[backend] != before[backend]
    other = "torch" if backend == "mlx" else "mlx"
    assert after[other] == before[other]
