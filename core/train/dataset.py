"""The training set: the person's own words, redacted, with a fixed held-out slice.

Only memories the person said or wrote (speaker "person": voice, text, import and chat) are
trained on; the assistant's replies never are, though they may be context. A chat turn of
the person becomes a (context → reply) pair: the assistant's turns since the person last
spoke (what the reply answers), cut to a budget, then the person's reply as the target. Any
other memory is a chunk of text with an empty prompt. Every text, context and target alike,
is redacted before it leaves this module, and the counts come back in
``Dataset.redaction_report``.

One example per record, and every record's words in exactly one example: its own (as the
target) or, for an assistant turn, that of the reply that follows it. DP-SGD protects each
example; since changing one record changes one example, that is a guarantee per record,
which is what the ledger charges (``TrainingExample.record_id``, sampled by Poisson). Were
the person's earlier turns context too, a turn would sit in several examples, and its true
ε would be a group-privacy bound the ledger does not report; ``Dataset.exposure`` lets the
tests hold this. The loss mask is the trainer's job: it trains on ``target`` only.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core.errors import StoreError
from core.memory.schema import Memory
from core.train.heldout import HELDOUT_FRACTION, check_fraction, is_heldout, read_heldout_files
from privacy.redaction import RedactionReport, Redactor

LABELS = {"person": "Person", "assistant": "Assistant"}
_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|ACCOUNT|ID|ADDRESS|NAME)\]")


@dataclass(frozen=True)
class Turn:
    speaker: str  # "person" or "assistant"
    text: str  # redacted


@dataclass(frozen=True)
class TrainingExample:
    """One record's words as a training target, with the (redacted) prompt before them.

    The trainer tokenizes ``prompt`` and ``target`` separately, concatenates the ids and
    computes the loss on the target's tokens only. ``prompt`` is "" for plain chunks; for a
    chat reply it is ``render_prompt(context)``, which ends in a newline so the boundary is
    also a token boundary.
    """

    record_id: str
    prompt: str
    target: str
    context_ids: tuple[str, ...] = ()  # records whose words are in the prompt, oldest first
    context: tuple[Turn, ...] = ()  # the prompt's turns, for trainers that use a chat template
    source: str = "text"

    @property
    def record_ids(self) -> tuple[str, ...]:
        """Every record whose words are in this example: the target's first."""
        return (self.record_id, *self.context_ids)


@dataclass
class DatasetOptions:
    max_context_turns: int = 8  # the assistant's turns before the reply kept as its context
    max_context_chars: int = 1500  # ~400 tokens: the newest turns that fit are kept
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


def render_prompt(context: Sequence[Turn]) -> str:
    """The context as plain text, each turn a labelled block, ending where the person's
    reply starts; "" for no context."""
    if not context:
        return ""
    blocks = "".join(f"{LABELS[t.speaker]}:\n{t.text}\n\n" for t in context)
    return f"{blocks}{LABELS['person']}:\n"


def _cut(text: str, limit: int, *, keep_end: bool = False) -> str:
    """At most ``limit`` characters of ``text``, cut between words."""
    if len(text) <= limit:
        return text
    if keep_end:
        tail = text[len(text) - limit + 1:]
        return "…" + (tail.split(" ", 1)[1] if " " in tail[:limit // 2] else tail)
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

    def example(self, memory: Memory, before: Sequence[Memory],
                skipped: Counter) -> TrainingExample | None:
        target = self.text(memory)
        if not any(ch.isalnum() for ch in _PLACEHOLDER.sub("", target)):
            skipped["empty"] += 1  # "[EMAIL]" alone teaches nothing about the person
            return None
        if len(target) > self.options.max_target_chars:
            target = _cut(target, self.options.max_target_chars)
            skipped["truncated"] += 1
        turns: list[tuple[str, Turn]] = []
        budget = self.options.max_context_chars
        for m in reversed(before[-self.options.max_context_turns:] if before else []):
            text = self.text(m)
            if not text:
                continue
            cost = len(text) + len(LABELS[m.speaker]) + 4
            if cost > budget:
                if not turns and budget > 40:  # a very long last turn: keep its end
                    turns.append((m.id, Turn(m.speaker, _cut(text, budget - 20, keep_end=True))))
                break
            turns.append((m.id, Turn(m.speaker, text)))
            budget -= cost
        turns.reverse()
        context = tuple(t for _, t in turns)
        return TrainingExample(record_id=memory.id, prompt=render_prompt(context),
                               target=target, context_ids=tuple(i for i, _ in turns),
                               context=context, source=memory.source)


def build_dataset(memories: Iterable[Memory], *, names: Iterable[str] = (),
                  heldout_fraction: float = HELDOUT_FRACTION, since: datetime | None = None,
                  exclude_ids: Collection[str] = (),
                  options: DatasetOptions | None = None) -> Dataset:
    """Training and held-out examples from ``memories`` (as read from the store).

    ``names`` are the person's ``redact_names``. Held-out records (see
    ``core.train.heldout``) are all in ``heldout`` and never in ``train``. ``since`` keeps
    only records stored at or after it as training targets (the nightly run's new records;
    older assistant turns still serve as context); the held-out slice is always complete.
    ``exclude_ids`` (e.g. records at their privacy budget) are never trained on, neither as
    targets nor as context.
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

    conversations: dict[str, list[Memory]] = defaultdict(list)
    for m in items:
        if m.source == "chat" and m.conversation_id:
            conversations[m.conversation_id].append(m)
    position: dict[str, tuple[str, int]] = {}
    for cid, turns in conversations.items():
        turns.sort(key=lambda m: (_utc(m.ts), m.id))
        position.update((m.id, (cid, i)) for i, m in enumerate(turns))

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
        before: list[Memory] = []
        if m.id in position:
            cid, i = position[m.id]
            before = [t for t in _since_the_person_spoke(conversations[cid][:i])
                      if held or t.id not in excluded]
        example = builder.example(m, before, skipped)
        if example is not None:
            (heldout if held else train).append(example)
            if held:
                skipped["heldout"] += 1
    return Dataset(train, heldout, builder.report, dict(skipped))


def _since_the_person_spoke(turns: Sequence[Memory]) -> list[Memory]:
    """The turns after the person's last one: the assistant's words the next reply answers.

    The person's own earlier turns are left out, so each of their records is in one example
    only (see the module's docstring).
    """
    start = len(turns)
    while start > 0 and turns[start - 1].speaker != "person":
        start -= 1
    return list(turns[start:])


def heldout_from_files(paths: Iterable[str | os.PathLike[str]], *, names: Iterable[str] = (),
                       options: DatasetOptions | None = None) -> Dataset:
    """Held-out evaluation data from ``.txt``/``.md`` files (``persona eval --heldout``):
    chunked like an import, redacted like the memories, all in ``Dataset.heldout``."""
    builder = _Builder(names, options or DatasetOptions())
    skipped: Counter = Counter()
    examples = [ex for m in read_heldout_files(paths)
                if (ex := builder.example(m, [], skipped)) is not None]
    return Dataset([], examples, builder.report, dict(skipped))
