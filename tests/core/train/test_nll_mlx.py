"""Target-token NLL and per-example gradients on MLX, with the real bundled model.

The batched per-example gradients (the path a GPU takes) must equal the gradients of each
example on its own, padding must change nothing, and MLX must score held-out text exactly
as torch does (the same model, the same token streams).
"""

from __future__ import annotations

import pytest

from persona.core.llm.mlx_blas import use_system_blas

use_system_blas()  # must run before mlx.core is first imported (see core/llm/mlx_blas.py)

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from persona.core.train.config import LoRAConfig  # noqa: E402
from persona.core.train.dataset import TrainingExample  # noqa: E402
from persona.core.train.lora_mlx import apply_lora, load_base, lora_parameters  # noqa: E402
from persona.core.train.nll_mlx import example_grads, logsumexp_rows, mean_nll  # noqa: E402
from persona.core.train.tokens import encode_examples  # noqa: E402
from tests.core.llm.conftest import model_folder  # noqa: E402, F401

pytest.importorskip("mlx_lm")
pytestmark = pytest.mark.slow

TEXTS = ["First Citizen:", "Before we proceed any further, hear me speak.",
         "You are all resolved rather to die than to famish?"]
EXAMPLES = [TrainingExample(f"r{i}", "Citizens:\n" if i == 1 else "", t)
            for i, t in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def lora_model(model_folder):  # noqa: F811
    model, tokenizer = load_base(model_folder)
    apply_lora(model, LoRAConfig(rank=4, alpha=8.0, layers=2), seed=3)
    params = lora_parameters(model)
    # B starts at zero, which would hide any mistake in A's gradient: give it values.
    keys = mx.random.split(mx.random.key(5), len(params))
    params = {k: (p + 0.02 * mx.random.normal(p.shape, key=key) if k.endswith("lora_b")
                  else p) for (k, p), key in zip(params.items(), keys, strict=True)}
    model.load_weights(list(params.items()), strict=False)
    return model, tokenizer, params


@pytest.mark.parametrize("vocab", [49152, 151936 + 7])
def test_logsumexp_rows_is_exact_and_its_gradient_is_the_softmax(vocab):
    rng = np.random.default_rng(vocab)
    logits = (rng.standard_normal((3, vocab)) * 3 - 10).astype(np.float32)
    exact = np.log(np.exp(logits.astype(np.float64)).sum(axis=-1))
    got = np.array(logsumexp_rows(mx.array(logits)))
    np.testing.assert_allclose(got, exact, rtol=0, atol=2e-6)
    grad = np.array(mx.grad(lambda x: logsumexp_rows(x).sum())(mx.array(logits)))
    softmax = np.exp(logits.astype(np.float64) - exact[:, None])
    np.testing.assert_allclose(grad, softmax, rtol=1e-4, atol=1e-9)


def test_batched_per_example_gradients_equal_one_example_at_a_time(lora_model):
    model, tokenizer, params = lora_model
    encoded = encode_examples(tokenizer, EXAMPLES, 64)
    assert len({len(e.ids) for e in encoded}) == 3  # different lengths: padding is used
    grads, losses = example_grads(model, params, encoded, pad_id=2)
    assert {k: v.shape for k, v in grads.items()} == {
        k: (3, *p.shape) for k, p in params.items()}
    for b, e in enumerate(encoded):
        alone, loss = example_grads(model, params, [e], pad_id=2)
        assert float(losses[b]) == pytest.approx(float(loss[0]), rel=1e-5)
        for k in params:
            np.testing.assert_allclose(np.array(grads[k][b]), np.array(alone[k][0]),
                                       rtol=1e-4, atol=1e-6)
    assert any(float(mx.abs(g).max()) > 0 for k, g in grads.items() if k.endswith("lora_a"))
    # The model's own weights are the unbatched ones again.
    now = lora_parameters(model)
    assert all(now[k].shape == p.shape and mx.array_equal(now[k], p) for k, p in params.items())


def test_padding_changes_nothing(lora_model):
    model, tokenizer, _ = lora_model
    encoded = encode_examples(tokenizer, EXAMPLES, 64)
    one = mean_nll(model, encoded, pad_id=2, batch_size=1)
    padded = mean_nll(model, encoded, pad_id=0, batch_size=3)
    assert one[1] == padded[1] == sum(e.target_tokens for e in encoded)
    assert one[0] == pytest.approx(padded[0], rel=1e-5)


def test_mlx_scores_heldout_text_as_torch_does(model_folder):  # noqa: F811
    from persona.core.train.dp_mlx import heldout_loss_mlx
    from persona.core.train.dp_torch import heldout_loss_torch

    mlx_nll, mlx_tokens = heldout_loss_mlx(model_folder, None, EXAMPLES, max_seq_len=64)
    torch_nll, torch_tokens = heldout_loss_torch(model_folder, None, EXAMPLES, max_seq_len=64)
    assert mlx_tokens == torch_tokens > 20
    # Both within 1e-5 of float64 (measured 2e-6 and 8e-6); mx.logsumexp was 1.5e-4 low.
    assert mlx_nll == pytest.approx(torch_nll, abs=2e-5)


def test_a_torch_trained_adapter_scores_the_same_on_mlx(model_folder, tmp_path):  # noqa: F811
    """A peft adapter given to MLX is converted (core.llm.adapters.peft_to_mlx) and then
    computes what torch computes with it."""
    from persona.core.train.dp_mlx import heldout_loss_mlx
    from persona.core.train.dp_torch import heldout_loss_torch
    from tests.core.llm.conftest import make_peft_adapter

    adapter = make_peft_adapter(model_folder, tmp_path / "peft", layers=[28, 29])
    mlx_base, _ = heldout_loss_mlx(model_folder, None, EXAMPLES, max_seq_len=64)
    mlx_nll, _ = heldout_loss_mlx(model_folder, adapter, EXAMPLES, max_seq_len=64)
    torch_base, _ = heldout_loss_torch(model_folder, None, EXAMPLES, max_seq_len=64)
    torch_nll, _ = heldout_loss_torch(model_folder, adapter, EXAMPLES, max_seq_len=64)
    print(f"base {mlx_base:.6f} / {torch_base:.6f}, adapter {mlx_nll:.6f} / {torch_nll:.6f}")
    assert abs(mlx_nll - mlx_base) > 1e-3  # the (small, random) adapter matters...
    # ...and moves the loss the same way on both backends.
    assert mlx_nll - mlx_base == pytest.approx(torch_nll - torch_base, abs=1e-4)


def test_per_record_scores_are_in_the_records_order_on_both_backends(model_folder):  # noqa: F811
    """record_scores batches records by length; each score must still be its own record's
    (the promotion gate pairs them record by record)."""
    from persona.core.evaluate.perplexity import combine
    from persona.core.evaluate.record_scores import record_scores

    groups = [EXAMPLES, list(reversed(EXAMPLES))]
    got = {b: record_scores(b, model_folder, None, groups, 64) for b in ("mlx", "torch")}
    for b in got:
        assert [s.tokens for s in got[b][0]] == [s.tokens for s in got[b][1]][::-1]
        assert [s.nll for s in got[b][0]] == pytest.approx([s.nll for s in got[b][1]][::-1],
                                                           abs=1e-5)
    for m, t in zip(got["mlx"][0], got["torch"][0], strict=True):
        assert m.tokens == t.tokens and m.nll == pytest.approx(t.nll, abs=5e-5)
    pooled_nll, tokens = combine((s.nll, s.tokens) for s in got["torch"][0])
    from persona.core.train.dp_torch import heldout_loss_torch
    assert (pooled_nll, tokens) == pytest.approx(
        heldout_loss_torch(model_folder, None, EXAMPLES, max_seq_len=64), abs=1e-5)
