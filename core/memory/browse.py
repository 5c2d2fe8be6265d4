"""Browsing the memory store: filters, newest-first order and pages that stay fast at 100k.

LanceDB has no ORDER BY, so a page of "newest first" needs every matching row's time. Only
the two small key columns (``id``, ``ts``) are read and sorted, once per filter, into a
``MemoryIndex``; a page then reads the full rows (text included) of just its ids through the
b-tree on ``id``. A browser keeps the index while the person scrolls, so scrolling costs one
small lookup per page, and the count under the filter is the index's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pyarrow.compute as pc

from persona.core.errors import StoreError
from persona.core.memory import rows
from persona.core.memory.schema import Hit, Memory

PAGE = 200  # rows per page: one id lookup, a few milliseconds at 100k


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in the local time zone (days are the person's days)."""
    return datetime.combine(day, time.min).astimezone()


@dataclass(frozen=True)
class BrowseFilter:
    """Which memories to show. ``since`` and ``until`` are local days, both included."""

    source: str | None = None
    emotion: str | None = None
    speaker: str | None = None
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise StoreError(f"The date range is backwards: from {self.since} to {self.until}. "
                             f"Choose a start date on or before the end date.")

    def where(self) -> str | None:
        """The LanceDB filter (None when everything matches)."""
        parts = [rows.where(source=self.source, speaker=self.speaker)]
        if self.emotion is not None:
            parts.append(f"emotion = {rows.sql_str(self.emotion)}")
        if self.since is not None:
            parts.append(f"ts >= TIMESTAMP '{day_start(self.since).isoformat()}'")
        if self.until is not None:
            end = day_start(self.until + timedelta(days=1))
            parts.append(f"ts < TIMESTAMP '{end.isoformat()}'")
        return " AND ".join(p for p in parts if p) or None

    def describe(self) -> str:
        """In words, for empty states ("no voice memories from 2025-01-01")."""
        words = [w for w in (self.emotion, self.source) if w]
        when = []
        if self.since:
            when.append(f"from {self.since:%Y-%m-%d}")
        if self.until:
            when.append(f"until {self.until:%Y-%m-%d}")
        return " ".join([*words, "memories", *when])


@dataclass
class MemoryIndex:
    """The ids of the memories under a filter, newest first (ties by id)."""

    ids: list[str]
    filter: BrowseFilter

    def __len__(self) -> int:
        return len(self.ids)

    def page_ids(self, offset: int, limit: int = PAGE) -> list[str]:
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must not be negative ({limit}, {offset})")
        return self.ids[offset:offset + limit]


def build_index(store, flt: BrowseFilter | None = None) -> MemoryIndex:
    """Read and sort the keys of every memory under ``flt`` (two small columns, no text)."""
    flt = flt or BrowseFilter()
    tbl = store.table
    if tbl is None:
        return MemoryIndex([], flt)
    where = flt.where()
    q = tbl.search().select(["id", "ts"])
    keys = store._read("list memories", lambda: (q.where(where) if where else q)
                       .limit(None).to_arrow())
    order = pc.sort_indices(keys, sort_keys=[("ts", "descending"), ("id", "ascending")])
    return MemoryIndex(pc.take(keys["id"], order).to_pylist(), flt)


def fetch(store, ids: Sequence[str]) -> list[Memory]:
    """The memories with ``ids``, in that order; ids no longer stored are left out."""
    tbl = store.table
    if tbl is None or not ids:
        return []
    found = store._read("read memories", lambda: rows.find_in(tbl, "id", list(ids),
                                                               rows.COLUMNS))
    by_id = {m.id: m for m in rows.to_memories(found)} if found.num_rows else {}
    return [by_id[i] for i in ids if i in by_id]


@dataclass
class Page:
    memories: list[Memory]
    total: int  # under the filter
    offset: int


def page(store, flt: BrowseFilter | None = None, *, limit: int = 20, offset: int = 0) -> Page:
    """One page of memories under ``flt``, newest first, with the count under the filter."""
    index = build_index(store, flt)
    return Page(fetch(store, index.page_ids(offset, limit)), len(index), offset)


def count(store, flt: BrowseFilter | None = None) -> int:
    """How many memories match ``flt`` (no key is read: LanceDB counts)."""
    tbl = store.table
    if tbl is None:
        return 0
    return store._read("count memories",
                       lambda: tbl.count_rows((flt or BrowseFilter()).where()))


def search(store, query: str, flt: BrowseFilter | None = None, *, k: int = 100) -> list[Hit]:
    """Hybrid search (meaning and words, with recency) among the memories under ``flt``."""
    return store.search(query, k, where=(flt or BrowseFilter()).where())


def emotions(store) -> list[str]:
    """The emotion labels that occur in the store, most frequent first."""
    tbl = store.table
    if tbl is None:
        return []
    col = store._read("read emotions", lambda: tbl.search().select(["emotion"])
                      .limit(None).to_arrow()["emotion"])
    counts = pc.value_counts(col).to_pylist() if len(col) else []
    return [c["values"] for c in sorted(counts, key=lambda c: (-c["counts"], c["values"]))]

