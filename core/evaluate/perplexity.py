"""Perplexity on held-out text: the backend-neutral maths and the torch helpers.

Every backend reports (mean NLL per target token, target tokens): the mean is over tokens,
not over examples, so a long held-out record weighs as much as its words. Perplexity is
``exp(mean NLL)``. The torch helpers pad a batch of ``Encoded`` examples and compute the
per-token NLL of their target tokens only (the trainer uses them too, so training and
evaluation read exactly the same token streams). torch is imported inside the helpers: this
module also serves MLX-only installs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from persona.core.train.tokens import Encoded


@dataclass(frozen=True)
class HeldoutLoss:
    """Mean NLL per target token over ``tokens`` target tokens."""

    nll: float
    tokens: int

    @property
    def perplexity(self) -> float:
        return perplexity(self.nll)


def perplexity(nll: float) -> float:
    """``exp(nll)``: the perplexity of a mean negative log-likelihood per token (in nats).

    Overflow gives inf (a model that is hopeless on the text); nan stays nan.
    """
    if math.isnan(nll):
        return math.nan
    if nll < 0:
        raise ValueError(f"a mean NLL cannot be negative, got {nll}")
    try:
        return math.exp(nll)
    except OverflowError:
        return math.inf


def combine(parts: Iterable[tuple[float, int]]) -> tuple[float, int]:
    """Token-weighted mean of several (mean NLL, tokens) parts; (nan, 0) for no tokens."""
    total, tokens = 0.0, 0
    for nll, n in parts:
        if n:
            total += nll * n
            tokens += n
    return (total / tokens if tokens else math.nan), tokens


def length_batches(encoded: Sequence[Encoded], batch_size: int, *,
                   max_tokens: int | None = None) -> list[list[Encoded]]:
    """``encoded`` in batches of similar length (longest first), so little is padded.

    A batch holds at most ``batch_size`` examples and, with ``max_tokens``, at most that many
    positions once padded (its size times its longest example), unless one example alone is
    longer. Padding costs as much compute as real tokens, and the logits of a padded batch
    (positions × vocabulary) are what bounds memory.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    batches: list[list[Encoded]] = []
    for e in sorted(encoded, key=lambda e: len(e.ids), reverse=True):
        current = batches[-1] if batches else None
        full = current is None or len(current) == batch_size or (
            max_tokens is not None and (len(current) + 1) * len(current[0].ids) > max_tokens)
        if full:
            batches.append([e])
        else:
            current.append(e)
    return batches


def pad_batch(batch: Sequence[Encoded], pad_id: int):
    """(input_ids, attention_mask, target_mask) as [B, T] torch tensors, right-padded.

    ``target_mask[b, t]`` is True where token ``t`` of example ``b`` is a target token; such a
    token is predicted from the logits at ``t - 1``. Padded positions are never targets and
    are masked out of attention (right padding: no real token attends to them anyway).
    """
    import torch

    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    target = torch.zeros((len(batch), width), dtype=torch.bool)
    for b, e in enumerate(batch):
        ids[b, :len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
        attention[b, :len(e.ids)] = 1
        target[b, e.target_start:len(e.ids)] = True
    return ids, attention, target


# How target_nll_torch computes a token's NLL; part of what a held-out perplexity kept in an
# adapter's metadata depends on (runner.heldout_digest), so a change is measured afresh.
# 2 (2026-12-04): the softmax over each target position's logits as a row, not over the
# vocabulary as a strided dimension (which was off by up to 1e-3 nats a token).
NLL_VERSION = 2

# Causal LMs whose logits are exactly ``lm_head(decoder(ids).last_hidden_state)`` (no
# softcapping or logit scale in between), so the vocabulary projection can be applied to the
# target positions only.
_PLAIN_HEADS = frozenset({"Qwen2ForCausalLM", "Qwen3ForCausalLM", "LlamaForCausalLM",
                          "MistralForCausalLM"})


def target_nll_torch(model, ids, attention, target, *, whole_logits: bool = False):
    """Per-token NLL [B, T-1] of the target tokens (0 elsewhere) and their mask [B, T-1].

    Runs the model forward (with autograd if enabled by the caller). For the models of
    ``_PLAIN_HEADS`` the vocabulary projection runs on the positions that predict a target
    token only, not on prompt and padding positions (``whole_logits``: on every position,
    as other models need); over a vocabulary of 150k it is a large part of a forward pass,
    and of the backward pass through it. Either way the softmax is taken over the target
    positions' logits as rows: over the vocabulary as a strided dimension, float32 rounding
    was off by up to 1e-3 nats a token.
    """
    import torch
    import torch.nn.functional as F

    mask = target[:, 1:]
    causal = _causal_lm(model)
    if whole_logits or type(causal).__name__ not in _PLAIN_HEADS:
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1][mask]
    else:
        hidden = causal.get_decoder()(input_ids=ids, attention_mask=attention).last_hidden_state
        logits = causal.get_output_embeddings()(hidden[:, :-1][mask])  # [targets, vocabulary]
    picked = F.cross_entropy(logits.float(), ids[:, 1:][mask], reduction="none")
    return torch.zeros(mask.shape, dtype=picked.dtype,
                       device=picked.device).masked_scatter(mask, picked), mask


def _causal_lm(model):
    """The transformers causal LM inside Opacus' and peft's wrappers (their LoRA layers and
    hooks live in its modules, so calling its parts directly keeps them)."""
    model = getattr(model, "_module", model)  # opacus GradSampleModule
    get_base = getattr(model, "get_base_model", None)  # peft PeftModel
    return get_base() if callable(get_base) else model


EVAL_TOKENS = 1024  # padded positions per forward pass when evaluating (see length_batches)


def mean_nll_torch(model, encoded: Sequence[Encoded], *, pad_id: int,
                   batch_size: int = 8) -> HeldoutLoss:
    """The mean NLL per target token of ``model`` on ``encoded`` (no gradients)."""
    parts = example_nll_torch(model, encoded, pad_id=pad_id, batch_size=batch_size)
    return HeldoutLoss(*combine((p.nll, p.tokens) for p in parts))


def example_nll_torch(model, encoded: Sequence[Encoded], *, pad_id: int,
                      batch_size: int = 8) -> list[HeldoutLoss]:
    """Each example's own mean NLL over its target tokens, in the order of ``encoded``
    (no gradients): what a membership-inference audit scores records by."""
    import torch

    out: dict[int, HeldoutLoss] = {}
    index = {id(e): i for i, e in enumerate(encoded)}
    distinct = [encoded[i] for i in sorted(index.values())]  # an object listed twice: once
    with torch.inference_mode():
        for batch in length_batches(distinct, batch_size, max_tokens=EVAL_TOKENS):
            nll, mask = target_nll_torch(model, *pad_batch(batch, pad_id))
            sums = nll.sum(1, dtype=torch.float64).tolist()
            counts = mask.sum(1).tolist()
            for e, total, n in zip(batch, sums, counts, strict=True):
                out[id(e)] = HeldoutLoss(total / n if n else math.nan, int(n))
    return [out[id(e)] for e in encoded]
