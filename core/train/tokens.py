"""Turning training examples into token ids with a loss mask (shared by both trainers),
the id that pads them and the digest that identifies a run's data.

The loss is on the target's tokens only: the prompt (earlier turns of a conversation) is
context the person did not write in this record, and the assistant's words must never be
learnt. Examples longer than ``max_len`` lose prompt tokens from the left first, then target
tokens from the right, so the person's own words are kept as long as possible.

An example starts the way the model's own tokenizer starts a text, with one exception.
Neither SmolLM2 nor Qwen2.5 adds its BOS (their GGUFs say ``add_bos_token: false``), but both
name one. Qwen's is ``<|endoftext|>``, which ends documents: as a first token it made the next
ones far less likely (held-out NLL on Shakespeare speeches 6.43 → 5.76 nats per token without
it, benchmarks/RESULTS.md), so it is left out. SmolLM2's is ``<|im_start|>``, a start marker:
without it DP training on MLX stopped lowering the held-out loss, so it is put first.
Without a BOS the first target token is context, not a target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from persona.core.train.dataset import TrainingExample


@dataclass(frozen=True)
class Encoded:
    record_id: str
    ids: list[int]
    target_start: int  # the loss covers ids[target_start:] (predicted from the token before)

    @property
    def target_tokens(self) -> int:
        return len(self.ids) - self.target_start


def start_ids(tokenizer) -> list[int]:
    """What the tokenizer puts before a text by itself: ``[bos]`` or nothing."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    if tokenizer.encode("a", add_special_tokens=True)[:1] == [bos]:
        return [bos]
    # Not added by the tokenizer: kept when it marks a start (SmolLM2's <|im_start|>; without
    # it, DP training on MLX stopped lowering the held-out loss: base NLL 6.13 -> 6.32 and 3 of
    # 4 ε = 8 runs failed tests/core/train/test_dp_mlx.py), dropped when it is the marker a
    # model sees *between* documents (Qwen2.5's <|endoftext|>, see above).
    return [] if "endoftext" in str(getattr(tokenizer, "bos_token", "") or "") else [bos]


def encode_example(tokenizer, example: TrainingExample, max_len: int, *,
                   bos: list[int] | None = None) -> Encoded | None:
    """``example`` as ids; None when its target has no tokens at all. ``bos``:
    ``start_ids(tokenizer)``, if the caller has it already."""
    if max_len < 2:
        raise ValueError(f"max_len must be at least 2, not {max_len}")
    bos = start_ids(tokenizer) if bos is None else bos
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    prompt = tokenizer.encode(example.prompt, add_special_tokens=False) if example.prompt else []
    target = tokenizer.encode(example.target, add_special_tokens=False) + eos
    if len(target) <= len(eos):
        return None
    head = bos + prompt
    room = max_len - len(target)
    if room < 1:  # the target alone is too long: keep its start, and at least one head token
        head = head[-1:] if head else []
        target = target[: max_len - len(head)]
    elif len(head) > room:
        head = head[len(head) - room:]
    if not head:  # the first target token needs a token before it to be predicted from
        head, target = target[:1], target[1:]
    return Encoded(example.record_id, head + target, len(head))


def encode_examples(tokenizer, examples: Sequence[TrainingExample], max_len: int
                    ) -> list[Encoded]:
    bos = start_ids(tokenizer)
    out = [encode_example(tokenizer, ex, max_len, bos=bos) for ex in examples]
    return [e for e in out if e is not None and e.target_tokens > 0]


def pad_id(tokenizer) -> int:
    """The id to pad batches with. Padded positions are never targets and are masked out of
    attention (or come after every real token): any valid id will do."""
    for pad in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if pad is not None:
            return int(pad)
    return 0


def data_digest(encoded: Sequence[Encoded]) -> str:
    """What identifies the training data: every example's record id and token ids."""
    h = hashlib.sha256()
    for e in encoded:
        h.update(json.dumps([e.record_id, e.target_start, e.ids]).encode())
    return h.hexdigest()
