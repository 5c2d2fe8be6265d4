"""Each held-out record's own NLL under the base model plus an adapter, for several groups of
records with one load of the model.

The promotion gate pairs two adapters' scores record by record (core/train/gate.py), the
membership audit attacks them (core/evaluate/membership.py) and the topics panel pools them
per topic (core/evaluate/topic_scores.py). A group's scores are those of its examples that
have a target token, in the group's order: the tokenization does not depend on the adapter,
so two adapters' scores of the same group pair up one to one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from persona.core.evaluate.perplexity import HeldoutLoss, combine, length_batches

MLX_BATCH = 8


def record_scores(backend: str, model_folder: Path, adapter: Path | None,
                  groups: Sequence[Sequence], max_seq_len: int = 256
                  ) -> list[list[HeldoutLoss]]:
    """For each group of examples, each example's (mean NLL over its target tokens, target
    tokens) under the base model plus ``adapter`` (examples without a target token are left
    out)."""
    if backend == "mlx":
        return _scores_mlx(model_folder, adapter, groups, max_seq_len)
    from persona.core.evaluate.perplexity import example_nll_torch
    from persona.core.train.lora import merged_model
    from persona.core.train.tokens import encode_examples, pad_id

    model, tokenizer = merged_model(model_folder, adapter)
    return [example_nll_torch(model, encode_examples(tokenizer, group, max_seq_len),
                              pad_id=pad_id(tokenizer)) if group else []
            for group in groups]


def _scores_mlx(model_folder, adapter, groups, max_seq_len) -> list[list[HeldoutLoss]]:
    from persona.core.train.dp_mlx import eval_model_mlx
    from persona.core.train.nll_mlx import example_losses, pad_batch
    from persona.core.train.tokens import encode_examples, pad_id

    model, tokenizer = eval_model_mlx(model_folder, adapter)
    out = []
    for group in groups:
        encoded = encode_examples(tokenizer, group, max_seq_len)
        nll: dict[int, float] = {}
        for batch in length_batches(encoded, MLX_BATCH):
            losses = example_losses(model, *pad_batch(batch, pad_id(tokenizer)))
            nll.update((id(e), float(x)) for e, x in zip(batch, losses, strict=True))
        out.append([HeldoutLoss(nll[id(e)], e.target_tokens) for e in encoded])
    return out


def pooled(scores: Sequence[HeldoutLoss]) -> tuple[float, int]:
    """(mean NLL per target token, target tokens) of a group's scores; (nan, 0) if none."""
    return combine((s.nll, s.tokens) for s in scores
                   if s.tokens and not math.isnan(s.nll))
