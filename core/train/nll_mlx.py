"""Target-token NLL on MLX: held-out loss, and exact per-example gradients of LoRA weights.

A batch of ``Encoded`` examples is right-padded; token ``t`` of an example is a target when
``target_start <= t < len(ids)`` and is predicted from the logits at ``t - 1``. With causal
attention no real token sees the padding after it, so padding changes nothing.

Per-example gradients: every LoRA matrix is broadcast to one copy per example (``[B, ...]``)
and mlx-lm's ``LoRALinear`` computes ``(x @ a) @ b`` with batched matmuls, so example b's
tokens only ever touch copy b. The gradient of the SUM of the examples' losses with respect
to copy b is therefore exactly example b's own gradient: one forward/backward pass gives
them all (the same numbers as a loop over examples, measured equal to the last bit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from persona.core.evaluate.perplexity import length_batches
from persona.core.train.tokens import Encoded


def pad_batch(batch: Sequence[Encoded], pad_id: int):
    """(ids [B, T], target mask [B, T-1]) as MLX arrays; the mask is aligned with the
    logits at positions 0..T-2, which predict tokens 1..T-1."""
    import mlx.core as mx

    if not batch:
        raise ValueError("cannot pad an empty batch")
    width = max(len(e.ids) for e in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int32)
    target = np.zeros((len(batch), width), dtype=bool)
    for b, e in enumerate(batch):
        ids[b, :len(e.ids)] = e.ids
        target[b, e.target_start:len(e.ids)] = True
    return mx.array(ids), mx.array(target[:, 1:])


# How token_nll computes a token's NLL (see perplexity.NLL_VERSION, torch's counterpart).
# 2 (2026-12-04): the exponentials summed in blocks (logsumexp_rows), not by mx.logsumexp.
NLL_VERSION = 2

# Exponentials are summed in blocks of this many, then the blocks' sums are summed.
SUM_BLOCK = 256


def logsumexp_rows(logits):
    """log Σ exp(logits) over the last axis, in float32 without MLX's loss of precision.

    MLX's CPU sums a row in one float32 accumulator: over a 49k-token vocabulary that sum is
    4-5e-5 low (measured against float64), and ``mx.logsumexp`` and
    ``nn.losses.cross_entropy`` are 1.5e-4 nats a token low with it. Summing blocks of
    SUM_BLOCK first keeps the error near 1e-7. The maximum is taken out of the gradient; the
    function does not depend on it, so the gradient is exactly the softmax.
    """
    import mlx.core as mx

    top = mx.stop_gradient(logits.max(axis=-1, keepdims=True))
    exps = mx.exp(logits - top)
    width = exps.shape[-1]
    if width % SUM_BLOCK:
        exps = mx.pad(exps, [(0, 0)] * (exps.ndim - 1) + [(0, -width % SUM_BLOCK)])
    sums = exps.reshape(*exps.shape[:-1], -1, SUM_BLOCK).sum(axis=-1).sum(axis=-1)
    return mx.log(sums) + top[..., 0]


def token_nll(model, ids, mask):
    """Per-token NLL [B, T-1] of the target tokens (0 elsewhere), in float32."""
    import mlx.core as mx

    logits = model(ids[:, :-1]).astype(mx.float32)
    picked = mx.take_along_axis(logits, ids[:, 1:, None], axis=-1)[..., 0]
    return (logsumexp_rows(logits) - picked) * mask


def example_losses(model, ids, mask):
    """Each example's own loss: the mean NLL over its target tokens, [B]."""
    return token_nll(model, ids, mask).sum(axis=1) / mask.sum(axis=1)


def example_grads(model, params: Mapping, batch: Sequence[Encoded], *, pad_id: int):
    """(per-example gradients {name: [B, *shape]}, per-example losses [B]) of the LoRA
    matrices ``params`` (flat names, as ``lora_parameters`` gives them) on ``batch``.

    The model's weights are put back to ``params`` afterwards, whatever happens.
    """
    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_unflatten

    ids, mask = pad_batch(batch, pad_id)
    size = len(batch)
    copies = tree_unflatten([(name, mx.broadcast_to(p, (size, *p.shape)))
                             for name, p in params.items()])

    def loss(tree):
        model.update(tree)
        per_example = example_losses(model, ids, mask)
        return per_example.sum(), per_example

    try:
        (_, per_example), grads = mx.value_and_grad(loss)(copies)
    finally:
        model.update(tree_unflatten(list(params.items())))
    return dict(tree_flatten(grads)), per_example


def micro_batch_size() -> int:
    """Examples per forward/backward pass: 8 on a GPU; 1 on a CPU, where a batch computes
    no faster than its examples one by one and padding to the longest costs ~25% (measured
    on 8 examples of 64-128 tokens: 12.4-14.1 s one by one, 13.7-14.9 s batched)."""
    import mlx.core as mx

    return 8 if mx.default_device().type == mx.DeviceType.gpu else 1


def mean_nll(model, encoded: Sequence[Encoded], *, pad_id: int,
             batch_size: int = 8) -> tuple[float, int]:
    """(mean NLL per target token, target tokens) of ``model`` on ``encoded``."""
    import mlx.core as mx

    total, tokens = 0.0, 0
    for batch in length_batches(encoded, batch_size):
        ids, mask = pad_batch(batch, pad_id)
        nll = token_nll(model, ids, mask).sum()
        total += float(nll.astype(mx.float32))
        tokens += int(mask.sum())
    return (total / tokens if tokens else math.nan), tokens
