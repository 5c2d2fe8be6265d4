"""Storing many memories fast: whole files gathered into batches, one ``add`` per batch.

One ``MemoryStore.add`` embeds its texts in one call (``NumpyBert.encode_many`` sorts them by
length and shares the batches out over the cores), looks duplicates up in one query and
commits once; one add per note instead spends most of its time on per-commit work (measured
on 1,000 one-note files: 7 memories/s one add per file, embedding-bound in batches). Batches
grow from ``FIRST_BATCH`` to ``BATCH_SIZE`` memories, so the first progress report (and the
first chance to cancel) comes within a fraction of a second and later batches embed
efficiently.

A file's memories always go into one batch, so each file is stored whole or not at all.
``should_stop()`` is asked before each batch is written (after its embedding): a cancelled
import keeps every batch already committed and reports the rest as not imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from persona.core.errors import PersonaError
from persona.core.memory.schema import Memory

log = logging.getLogger(__name__)

FIRST_BATCH = 16  # the first batch: progress shows (and Cancel works) at once
BATCH_SIZE = 256  # the largest: 4 of the embedder's 64-text batches, ~0.6 s on 2 cores


@dataclass
class BatchOutcome:
    """What the batches written so far did."""

    done: int = 0  # memories in the batches written (or failed) so far
    stored: int = 0
    duplicates: int = 0
    ids: list[str] = field(default_factory=list)  # of the stored memories, in order
    committed: list[Hashable] = field(default_factory=list)  # files whose memories are in
    failed: list[tuple[Hashable, str]] = field(default_factory=list)  # (file, why)
    cancelled: bool = False  # should_stop() said so; nothing more is written

    def finished(self) -> set[Hashable]:
        """The files written or failed (after a cancel, the others were not stored)."""
        return set(self.committed) | {f for f, _ in self.failed}


class BatchWriter:
    """``writer.add(file, memories)`` … ``writer.close()``: stores the memories of whole
    files in batches of ``first`` growing (doubling) to ``most`` memories.

    ``annotate`` fills in each memory just before its batch is embedded (emotion tags);
    ``on_commit(outcome)`` is called after each batch (progress); a batch that fails with a
    ``PersonaError`` marks its files failed, and the others still go in.
    """

    def __init__(self, store, *, annotate: Callable[[Memory], Memory] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 on_commit: Callable[[BatchOutcome], None] | None = None,
                 first: int = FIRST_BATCH, most: int = BATCH_SIZE) -> None:
        if first < 1 or most < 1:
            raise ValueError(f"batch sizes must be at least 1 (first={first}, most={most})")
        self.store = store
        self.annotate = annotate
        self.should_stop = should_stop
        self.on_commit = on_commit
        self.most = most
        self.size = min(first, most)
        self.outcome = BatchOutcome()
        self._files: list[Hashable] = []
        self._memories: list[Memory] = []

    @property
    def pending(self) -> int:
        """Memories gathered and not written yet."""
        return len(self._memories)

    def add(self, file: Hashable, memories: list[Memory]) -> None:
        """Queue one file's memories; writes a batch once enough are gathered."""
        self._files.append(file)
        self._memories += memories
        if len(self._memories) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Write what is gathered as one batch (nothing after a cancel: it is dropped)."""
        files, batch = self._files, self._memories
        self._files, self._memories = [], []
        if not files:
            return
        out = self.outcome
        if out.cancelled or self._stopped():
            out.cancelled = True
            return
        if self.annotate is not None:
            batch = [self.annotate(m) for m in batch]
        try:
            result = self.store.add(batch, compact=False,
                                    proceed=None if self.should_stop is None
                                    else lambda: not self._stopped())
        except PersonaError as exc:
            out.failed += [(f, str(exc)) for f in files]
            out.done += len(batch)
        else:
            if result.cancelled:
                out.cancelled = True
                return
            out.done += len(batch)
            out.stored += len(result.ids)
            out.duplicates += len(result.duplicates)
            out.ids += result.ids
            out.committed += files
        self.size = min(self.size * 2, self.most)
        if self.on_commit is not None:
            self.on_commit(out)

    def close(self, *, compact: bool | None = None) -> BatchOutcome:
        """Write the last batch and tidy the store once (its indexes take in the new rows;
        ``compact`` None: when anything was stored); returns what happened."""
        self.flush()
        if self.outcome.stored if compact is None else compact:
            try:
                self.store.compact()
            except PersonaError as exc:  # the memories are stored; tidying up can wait
                log.warning("could not compact the memory store after the import: %s", exc)
        return self.outcome

    def _stopped(self) -> bool:
        return self.should_stop is not None and bool(self.should_stop())
