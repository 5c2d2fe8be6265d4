"""The training set: the person's own words, redacted, with a fixed held-out slice.

Only memories the person said or wrote (speaker "person": voice, text, import and chat) are
trained on, and each example holds the words of exactly one record and nothing else: its
own text as the target, after a prompt that is fixed text. A chat turn of the person gets
the fixed prompt ``CHAT_PROMPT`` ("Person:\n"), so the adapter learns how the person speaks
in a chat; any other memory is a chunk of text with an empty prompt. The assistant's replies
are never in an example, not even as context: they are generated from retrieved memories
(held-out ones, forgotten ones, ones at their budget), and the ledger charges an example
only to its own record, so an assistant turn as context would carry other records into the
gradient uncharged. Every text is redacted before it leaves this module, and the counts come
back in ``Dataset.redaction_report``.

One example per record: DP-SGD protects each example; since changing one record changes one
example, that is a guarantee per record, which is what the ledger charges
(``TrainingExample.record_id``, sampled by Poisson). ``Dataset.exposure`` lets the tests
hold this. The loss mask is the trainer's job: it trains on ``target`` only.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from persona.core.errors import StoreError
from persona.core.memory.schema import Memory
from persona.core.train.heldout import (
    HELDOUT_FRACTION,
    check_fraction,
    is_heldout,
    read_heldout_files,
)
from persona.privacy.redaction import KINDS, RedactionReport, Redactor

# The prompt of a chat turn of the person: template text only, the same for every example.
CHAT_PROMPT = "Person:\n"
_PLACEHOLDER = re.compile(r"\[(?:" + "|".join(k.upper() for k in KINDS) + r")\]")


@dataclass(frozen=True)
class TrainingExample:
    """One record's words as a training target, after a fixed prompt.

    The trainer tokenizes ``prompt`` and ``target`` separately, concatenates the ids and
    computes the loss on the target's tokens only. ``prompt`` is "" for plain chunks and
    ``CHAT_PROMPT`` for a chat turn of the person: template text, never anybody's words.
    """

    record_id: str
    prompt: str
    target: str
    source: str = "text"

    @property
    def record_ids(self) -> tuple[str, ...]:
        """Every record whose words are in this example: its own, only."""
        return (self.record_id,)


@dataclass
class DatasetOptions:
    max_target_chars: int = 2000  # ~500 tokens: a longer text is cut at a word boundary


@dataclass
class Dataset:
    train: list[TrainingExample]
    heldout: list[TrainingExample]
    redaction_report: RedactionReport
    # Why memories were left out of ``train``: "assistant", "heldout", "before_since",
    # "excluded", "empty" (nothing but placeholders left) and "truncated" targets (kept).
    skipped: dict[str, int] = field(default_factory=dict)

    def exposure(self) -> dict[str, int]:
        """How many training examples hold each record's words (as target or context)."""
        return dict(Counter(rid for ex in self.train for rid in ex.record_ids))


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, cut between words."""
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    return head.rsplit(" ", 1)[0] if " " in head[limit // 2:] else text[:limit]


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


class _Builder:
    def __init__(self, names: Iterable[str], options: DatasetOptions) -> None:
        self.redactor = Redactor(names)
        self.options = options
        self.report = RedactionReport()
        self._texts: dict[str, str] = {}

    def text(self, memory: Memory) -> str:
        """The memory's redacted text (each memory redacted and counted once)."""
        if memory.id not in self._texts:
            result = self.redactor.redact(" ".join(memory.text.split()))
            self.report += result.report
            self._texts[memory.id] = result.text
        return self._texts[memory.id]

    def example(self, memory: Memory, skipped: Counter) -> TrainingExample | None:
        target = self.text(memory)
        if not any(ch.isalnum() for ch in _PLACEHOLDER.sub("", target)):
            skipped["empty"] += 1  # "[EMAIL]" alone teaches nothing about the person
            return None
        if len(target) > self.options.max_target_chars:
            target = _cut(target, self.options.max_target_chars)
            skipped["truncated"] += 1
        prompt = CHAT_PROMPT if memory.source == "chat" else ""
        return TrainingExample(record_id=memory.id, prompt=prompt, target=target,
                               source=memory.source)


def build_dataset(memories: Iterable[Memory], *, names: Iterable[str] = (),
                  heldout_fraction: float = HELDOUT_FRACTION, since: datetime | None = None,
                  exclude_ids: Collection[str] = (),
                  options: DatasetOptions | None = None) -> Dataset:
    """Training and held-out examples from ``memories`` (as read from the store).

    ``names`` are the person's ``redact_names``. Held-out records (see
    ``persona.core.train.heldout``) are all in ``heldout`` and never in ``train``. ``since`` keeps
    only records stored at or after it as training targets (the nightly run's new records);
    the held-out slice is always complete. ``exclude_ids`` (e.g. records at their privacy
    budget) are never trained on. No example holds any words but its own record's.
    """
    fraction = check_fraction(heldout_fraction)
    options = options or DatasetOptions()
    since = _utc(since) if since is not None else None
    excluded = set(exclude_ids)
    items = list(memories)
    seen: set[str] = set()
    for i, m in enumerate(items):
        if not isinstance(m, Memory):
            raise TypeError(f"build_dataset() takes Memory objects, not {type(m).__name__} "
                            f"(#{i})")
        if m.id in seen:
            raise StoreError(f"Two memories have the id {m.id!r}; ids must be unique. Read "
                             f"the memories from the store rather than building them twice.")
        seen.add(m.id)

    builder = _Builder(names, options)
    train: list[TrainingExample] = []
    heldout: list[TrainingExample] = []
    skipped: Counter = Counter()
    for m in sorted(items, key=lambda m: (_utc(m.ts), m.id)):
        if m.speaker != "person":
            skipped["assistant"] += 1
            continue
        held = is_heldout(m, fraction)
        if not held and m.id in excluded:
            skipped["excluded"] += 1
            continue
        if not held and since is not None and _utc(m.ts) < since:
            skipped["before_since"] += 1
            continue
        if not m.text.strip():
            skipped["empty"] += 1
            continue
        example = builder.example(m, skipped)
        if example is not None:
            (heldout if held else train).append(example)
            if held:
                skipped["heldout"] += 1
    return Dataset(train, heldout, builder.report, dict(skipped))


def heldout_from_files(paths: Iterable[str | os.PathLike[str]], *, names: Iterable[str] = (),
                       options: DatasetOptions | None = None) -> Dataset:
    """Held-out evaluation data from ``.txt``/``.md`` files (``persona eval --heldout``):
    chunked like an import, redacted like the memories, all in ``Dataset.heldout``."""
    builder = _Builder(names, options or DatasetOptions())
    skipped: Counter = Counter()
    examples = [ex for m in read_heldout_files(paths)
                if (ex := builder.example(m, skipped)) is not None]
    return Dataset([], examples, builder.report, dict(skipped))
