"""The memory store: one LanceDB table of memories, searched by meaning, by words, or both.

Writes embed first and commit once, so a failed embed or a bad text stores nothing; an
identical text (same ``text_hash``) is never stored twice. Hybrid search lets LanceDB fuse
the vector and full-text rankings (RRF), then ``persona.core.memory.ranking`` adds recency. After
batch writes (or every few single ones) the table is compacted, its indexes brought up to
date and old versions removed, so a year of push-to-talk does not leave thousands of files.
Every write holds the store's lock file and re-checks the newest table version inside it
(``persona.core.memory.writelock``), so the app and `persona` commands can write to one home at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import lancedb
import pyarrow.compute as pc
from lancedb.index import FTS, BTree
from lancedb.rerankers import RRFReranker

from persona.core.errors import StoreError, TextError
from persona.core.memory import purge, rows, upkeep, writelock
from persona.core.memory.ranking import MODES, RetrievalOptions, blend, hybrid_relevance
from persona.core.memory.schema import Hit, Memory, arrow_schema, now_utc
from persona.core.memory.upkeep import StoreOptions

log = logging.getLogger(__name__)

TABLE = "memories"
READ_ATTEMPTS = 4  # a read whose files another process removed is tried again this often
T = TypeVar("T")


def _files_vanished(exc: BaseException | None) -> bool:
    """Lance's error for a data or index file that is no longer there."""
    text = str(exc)
    return "Not found" in text and (".lance" in text or "_indices" in text)


@dataclass
class Duplicate:
    index: int  # position in the batch given to add()
    memory: Memory  # the memory that was not stored
    existing_id: str  # the stored memory (or an earlier one in the batch) with the same text


@dataclass
class AddResult:
    ids: list[str] = field(default_factory=list)  # newly stored memories, in input order
    duplicates: list[Duplicate] = field(default_factory=list)
    cancelled: bool = False  # ``proceed()`` said no after embedding: nothing was written


class MemoryStore:
    """The person's memories in a LanceDB folder (``Home.memory_dir``)."""

    def __init__(self, path: str | os.PathLike[str], embedder, *, settings=None,
                 retrieval: RetrievalOptions | None = None,
                 options: StoreOptions | None = None) -> None:
        self.path = Path(path)
        self.embedder = embedder
        if retrieval is None:
            retrieval = (RetrievalOptions.from_settings(settings) if settings is not None
                         else RetrievalOptions())
        self.retrieval = retrieval
        self.options = options or StoreOptions()
        self._lock = threading.RLock()
        self._db = None
        self._tbl = None
        self._reranker = RRFReranker(return_score="relevance")
        self.last_purge = None  # what the last purge() removed (core.memory.forget reports it)

    # ------------------------------------------------------------------ opening
    @contextlib.contextmanager
    def _errors(self, action: str):
        try:
            yield
        except (OSError, RuntimeError, ValueError) as exc:
            raise StoreError(
                f"The memory store at {self.path} could not {action} ({exc}). Check that the "
                f"disk has space and the folder is writable; if the store is damaged, move "
                f"the folder away and re-import your notes.") from exc

    def _read(self, action: str, read: Callable[[], T]) -> T:
        """``read()`` under ``_errors(action)``, again from the newest version when another
        process's tidy-up removed the files of the version it was reading (old versions go at
        once, for forgetting: ``StoreOptions.keep_versions``). Seen with the app and `persona
        remember` on one home: "Not found: …/memories.lance/data/….lance" while looking for
        duplicates."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                with self._errors(action):
                    return read()
            except StoreError as exc:
                if attempt == READ_ATTEMPTS or not _files_vanished(exc.__cause__):
                    raise
                log.info("memory store: files went during a read (%s); reading again", action)
                time.sleep(0.05 * attempt)
                if self._tbl is not None:  # a handle that does not re-read by itself
                    with contextlib.suppress(OSError, RuntimeError, ValueError):
                        self._tbl.checkout_latest()
        raise AssertionError("unreachable")

    def _connect(self):
        if self._db is None:
            with self._errors("be opened"):
                self._db = lancedb.connect(
                    str(self.path), read_consistency_interval=self.options.read_consistency)
        return self._db

    @property
    def table(self):
        """The LanceDB table, or None while nothing has been stored yet."""
        if self._tbl is None:
            with self._lock:
                if self._tbl is None and self.path.exists():
                    try:
                        self._tbl = self._connect().open_table(TABLE)
                    except ValueError:  # "Table 'memories' was not found"
                        return None
        return self._tbl

    def _create(self, dim: int):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._errors("create its table"):
            tbl = self._connect().create_table(TABLE, schema=arrow_schema(dim), exist_ok=True)
            names = {tuple(i.columns) for i in tbl.list_indices()}
            # Full-text on the words; b-trees make dedupe and get/delete by id lookups.
            if ("text",) not in names:
                tbl.create_index("text", config=FTS(), replace=True)
            for column in ("text_hash", "id"):
                if (column,) not in names:
                    tbl.create_index(column, config=BTree(), replace=True)
        self._tbl = tbl
        return tbl

    def _check_dim(self, tbl, dim: int) -> None:
        stored = tbl.schema.field("vector").type.list_size
        if stored != dim:
            raise StoreError(
                f"The memory store at {self.path} holds {stored}-d vectors but the embedding "
                f"model {getattr(self.embedder, 'path', '?')} makes {dim}-d ones. Set "
                f"'embed_model' back to the model the store was built with, or move the "
                f"store folder away and re-import.")

    # ------------------------------------------------------------------ writing
    def add(self, memories: Memory | list[Memory], *, compact: bool = True,
            proceed: Callable[[], bool] | None = None) -> AddResult:
        """Embed and store ``memories`` in one commit; returns the new ids and the duplicates.

        A text already stored (or repeated within the batch) is skipped and reported. An
        empty text raises ``TextError`` and nothing of the batch is stored. With ``compact``
        the table is tidied up when enough writes have piled up (see ``StoreOptions``).
        ``proceed()`` is asked once the batch is embedded, just before the write: False
        writes nothing and returns ``cancelled`` (a long import's Cancel stops there).
        """
        items = [memories] if isinstance(memories, Memory) else list(memories)
        for i, m in enumerate(items):
            if not isinstance(m, Memory):
                raise TypeError(f"add() takes Memory objects, not {type(m).__name__} (#{i})")
            if not isinstance(m.text, str) or not m.text.strip():
                raise TextError(f"Memory #{i} has no text ({m.text!r}); nothing was stored. "
                                f"Say or type something first.")
        with self._lock:
            # A first look without the write lock: duplicates are not embedded, and the slow
            # embedding does not hold up the other processes' writes.
            fresh, dupes = self._sort_out(self.table, items, range(len(items)))
            if not fresh:
                return AddResult(duplicates=dupes)
            vectors = self.embedder.encode([items[i].text for i in fresh])  # before any write
            if proceed is not None and not proceed():
                return AddResult(cancelled=True)
            row_of = {i: k for k, i in enumerate(fresh)}
            with self._write_lock():
                # Another process may have stored some of them meanwhile: decide again on the
                # newest version of the table.
                tbl = self.table
                keep, later = self._sort_out(tbl, items, fresh)
                result = AddResult(duplicates=sorted(dupes + later, key=lambda d: d.index))
                if not keep:
                    return result
                if tbl is None:
                    tbl = self._create(vectors.shape[1])
                self._check_dim(tbl, vectors.shape[1])
                new = [items[i] for i in keep]
                data = rows.to_arrow(new, vectors[[row_of[i] for i in keep]])
                result.ids = [m.id for m in new]
                with self._errors("store new memories"):
                    writelock.commit(lambda: tbl.add(data),
                                     lambda: self._stored_ids(tbl, result.ids) == set(result.ids),
                                     what="adding memories")
                if compact:
                    self._compact_if_due(len(new))
        return result

    def _sort_out(self, tbl, items: list[Memory], indices) -> tuple[list[int], list[Duplicate]]:
        """Of ``items[i]`` for ``i`` in ``indices``: those to store, and the duplicates of a
        stored memory or of an earlier item. An id stored with another text raises."""
        indices = list(indices)
        seen = self._stored_hashes(tbl, {items[i].hash for i in indices})
        taken = self._stored_ids(tbl, [items[i].id for i in indices])
        fresh: list[int] = []
        dupes: list[Duplicate] = []
        for i in indices:
            m = items[i]
            if m.hash in seen:
                dupes.append(Duplicate(i, m, seen[m.hash]))
                continue
            if m.id in taken:
                raise StoreError(f"A memory with the id {m.id!r} is already stored with "
                                 f"another text; nothing was stored. Give it a new id.")
            seen[m.hash] = m.id
            taken.add(m.id)
            fresh.append(i)
        return fresh, dupes

    def _write_lock(self) -> writelock.WriteLock:
        """The lock every writer of this store holds, in every process (core.memory.writelock)."""
        return writelock.WriteLock(self.path)

    def _stored_hashes(self, tbl, hashes: set[str]) -> dict[str, str]:
        if tbl is None or not hashes:
            return {}
        found = self._read("look for duplicates", lambda: rows.find_in(
            tbl, "text_hash", sorted(hashes), ["text_hash", "id"]))
        return dict(zip(found["text_hash"].to_pylist(), found["id"].to_pylist(), strict=True))

    def _stored_ids(self, tbl, ids: list[str]) -> set[str]:
        if tbl is None or not ids:
            return set()
        return self._read("look up ids", lambda: set(
            rows.find_in(tbl, "id", ids, ["id"])["id"].to_pylist()))

    def delete(self, memory_id: str) -> Memory:
        """Forget one memory; returns it. An unknown id raises ``StoreError``."""
        with self._lock, self._write_lock():
            memory = self.get(memory_id)
            tbl = self.table
            with self._errors(f"delete memory {memory_id!r}"):
                writelock.commit(lambda: tbl.delete(f"id = {rows.sql_str(memory_id)}"),
                                 lambda: not self._stored_ids(tbl, [memory_id]),
                                 what="forgetting a memory")
            self._compact_if_due(0)
        return memory

    def forget(self, memory_ids: list[str]) -> list[Memory]:
        """Forget several memories at once; returns them. If any id is unknown, nothing is
        deleted and ``StoreError`` names it. The rows are then removed from the disk too:
        their fragments rewritten, the indexes rebuilt, old versions deleted
        (``persona.core.memory.purge``)."""
        ids = list(dict.fromkeys(memory_ids))
        if not ids:
            return []
        with self._lock, self._write_lock():
            tbl = self.table
            found = [] if tbl is None else rows.to_memories(
                rows.find_in(tbl, "id", ids, rows.COLUMNS))
            missing = sorted(set(ids) - {m.id for m in found})
            if missing:
                raise StoreError(f"No memory has the id {missing[0]!r}"
                                 f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}"
                                 f"; nothing was forgotten. List them with `persona memories "
                                 f"list` to find the right ids.")
            with self._errors("forget memories"):
                for i in range(0, len(ids), 500):
                    chunk = ids[i:i + 500]
                    writelock.commit(lambda c=chunk: tbl.delete(rows.sql_in("id", c)),
                                     lambda c=chunk: not self._stored_ids(tbl, c),
                                     what="forgetting memories")
            self.purge()
        by_id = {m.id: m for m in found}
        return [by_id[i] for i in ids]

    def update_text(self, memory_id: str, text: str) -> Memory:
        """Replace a memory's text (and its vector) in one commit; returns the new memory.

        Its id, time, source, recording and emotion tag are kept (the tag came from the voice
        as much as from the words). Empty text raises ``TextError``; a text that another
        memory already holds raises ``StoreError``; either way nothing changes.
        """
        if not isinstance(text, str) or not text.strip():
            raise TextError("The new text is empty; nothing was changed. Type what the memory "
                            "should say, or forget the memory instead.")
        with self._lock, self._write_lock():
            old = self.get(memory_id)
            new = replace(old, text=text.strip())
            if new.text == old.text:
                return old
            tbl = self.table
            same = self._stored_hashes(tbl, {new.hash}).get(new.hash)
            if same is not None and same != memory_id:
                raise StoreError(f"Another memory ({same}) already says this; nothing was "
                                 f"changed. Edit the text so it differs, or forget one of them.")
            vectors = self.embedder.encode([new.text])
            self._check_dim(tbl, vectors.shape[1])
            data = rows.to_arrow([new], vectors)
            with self._errors(f"save memory {memory_id!r}"):
                writelock.commit(
                    lambda: tbl.merge_insert("id").when_matched_update_all().execute(data),
                    lambda: self.get(memory_id).text == new.text, what="editing a memory")
            self._compact_if_due(1)
        return new

    def clear_audio_paths(self, memory_ids: list[str]) -> None:
        """Forget that these memories had a recording (their WAVs were deleted by the
        retention sweep, core.memory.retention); unknown ids are ignored."""
        ids = list(dict.fromkeys(memory_ids))
        if not ids:
            return
        with self._lock, self._write_lock():
            tbl = self.table
            for i in range(0, len(ids), 500):
                where = f"{rows.sql_in('id', ids[i:i + 500])} AND audio_path IS NOT NULL"
                with self._errors("clear recordings"):
                    writelock.commit(
                        lambda w=where: tbl.update(where=w, values_sql={"audio_path": "NULL"}),
                        lambda w=where: tbl.count_rows(w) == 0, what="clearing recordings")
            self._compact_if_due(len(ids))

    # ------------------------------------------------------------------ upkeep
    def _compact_if_due(self, rows_written: int) -> None:
        """Compact when enough has piled up. It follows a committed write, so a failed tidy-up
        is logged, not raised: the write must not be reported as failed."""
        tbl = self.table
        if tbl is None:
            return
        try:
            if rows_written >= self.options.compact_batch_rows or (
                    len(tbl.list_versions()) >= self.options.compact_every_writes):
                self.compact()
        except (StoreError, OSError, RuntimeError, ValueError) as exc:
            log.warning("the memory store was not compacted this time: %s", exc)

    def compact(self) -> None:
        """Merge small files, bring the indexes up to date, build or retrain the vector
        index once the table is big enough, and remove old versions."""
        with self._lock, self._write_lock():
            tbl = self.table
            if tbl is None:
                return
            with self._errors("be compacted"):
                upkeep.maintain_vector_index(tbl, min_rows=self.options.vector_index_min_rows)
                writelock.commit(lambda: upkeep.optimize(
                    tbl, keep_versions=self.options.keep_versions), lambda: False,
                    what="compacting the memory store")

    def purge(self):
        """Remove deleted rows from every file on disk (``persona.core.memory.purge``); returns a
        ``PurgeResult``, or None while there is no table."""
        with self._lock, self._write_lock():
            tbl = self.table
            if tbl is None:
                return None
            done = []
            with self._errors("remove forgotten memories from the disk"):
                writelock.commit(lambda: done.append(purge.purge_deleted(tbl)), lambda: False,
                                 what="removing forgotten memories from the disk")
            self.last_purge = done[-1]
            return self.last_purge

    def versions(self) -> int:
        """How many table versions are kept on disk (stays low thanks to ``compact``)."""
        tbl = self.table
        return 0 if tbl is None else len(tbl.list_versions())

    # ------------------------------------------------------------------ reading
    def count(self, *, source: str | None = None, speaker: str | None = None,
              conversation_id: str | None = None) -> int:
        tbl = self.table
        if tbl is None:
            return 0
        return self._read("count memories", lambda: tbl.count_rows(
            rows.where(source=source, speaker=speaker, conversation_id=conversation_id)))

    def get(self, memory_id: str) -> Memory:
        """The memory with ``memory_id``; an unknown id raises ``StoreError``."""
        tbl = self.table
        found = []
        if tbl is not None:
            found = self._read("read a memory", lambda: (
                tbl.search().where(f"id = {rows.sql_str(memory_id)}")
                .select(rows.COLUMNS).limit(1).to_arrow()))
        if tbl is None or found.num_rows == 0:
            raise StoreError(f"No memory has the id {memory_id!r}; list them with "
                             f"`persona memories list` to find the right one.")
        return rows.to_memories(found)[0]

    def list(self, limit: int = 20, offset: int = 0, *, source: str | None = None,
             speaker: str | None = None) -> list[Memory]:
        """Memories newest first, ``limit`` of them after skipping ``offset``."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must not be negative ({limit}, {offset})")
        tbl = self.table
        if tbl is None or limit == 0:
            return []
        flt = rows.where(source=source, speaker=speaker)

        def read():
            q = tbl.search().select(["id", "ts"])
            keys = (q.where(flt) if flt else q).limit(None).to_arrow()
            order = pc.sort_indices(keys, sort_keys=[("ts", "descending"), ("id", "ascending")])
            page = pc.take(keys["id"], order[offset:offset + limit]).to_pylist()
            found = (tbl.search().where(rows.sql_in("id", page)).select(rows.COLUMNS)
                     .limit(None).to_arrow() if page else None)
            return page, found

        page, found = self._read("list memories", read)
        if not page:
            return []
        by_id = {m.id: m for m in rows.to_memories(found)}
        return [by_id[i] for i in page if i in by_id]

    def all_memories(self, *, since: datetime | None = None) -> list[Memory]:
        """Every memory (stored at or after ``since``, if given), oldest first."""
        tbl = self.table
        if tbl is None:
            return []
        q = tbl.search().select(rows.COLUMNS)
        if since is not None:
            q = q.where(f"ts >= TIMESTAMP '{since.astimezone().isoformat()}'")
        found = self._read("read memories", lambda: q.limit(None).to_arrow())
        found = found.take(pc.sort_indices(found, sort_keys=[("ts", "ascending"),
                                                            ("id", "ascending")]))
        return rows.to_memories(found)

    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid",
               source: str | None = None, speaker: str | None = None,
               exclude_ids: list[str] | tuple[str, ...] = (), now: datetime | None = None,
               recency_weight: float | None = None, where: str | None = None) -> list[Hit]:
        """The ``k`` memories that best answer ``query``, best first.

        ``mode`` is "hybrid" (meaning and words, fused by LanceDB's RRF reranker), "vector"
        (meaning only) or "fts" (words only); every mode then blends in recency (see
        ``persona.core.memory.ranking``). ``now`` fixes the clock for recency (tests, benchmarks).
        ``where`` is a LanceDB filter applied before ranking.
        """
        if mode not in MODES:
            raise StoreError(f"Unknown search mode {mode!r}; use one of {', '.join(MODES)}.")
        if not isinstance(query, str) or not query.strip():
            raise TextError("The search query is empty; ask about something.")
        k = self.retrieval.k if k is None else k
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        tbl = self.table
        if tbl is None:
            return []
        flt = rows.where(source=source, speaker=speaker, exclude_ids=exclude_ids)
        if where:  # a further filter, e.g. the memory browser's (core.memory.browse)
            flt = f"({where}) AND ({flt})" if flt else where
        vector = None if mode == "fts" else self.embedder.encode_query(query)
        if vector is not None:
            self._check_dim(tbl, len(vector))
        def read():
            if mode == "fts":
                q = tbl.search(query, query_type="fts", fts_columns="text")
                q = q.select([*rows.COLUMNS, "_score"])
            elif mode == "vector":
                q = tbl.search(vector, vector_column_name="vector").distance_type("cosine")
                q = q.select([*rows.COLUMNS, "_distance"])
            else:  # no select(): LanceDB would pass it to both legs and warn about scores
                q = (tbl.search(query_type="hybrid", vector_column_name="vector",
                                fts_columns="text")
                     .vector(vector).text(query).distance_type("cosine").rerank(self._reranker))
            if flt:
                q = q.where(flt, prefilter=True)
            return q.limit(self.retrieval.candidates(k)).to_arrow()

        found = self._read("search", read)
        if found.num_rows == 0:
            return []
        if mode == "fts":
            relevance = found["_score"].to_pylist()
        elif mode == "vector":
            relevance = [1.0 - d for d in found["_distance"].to_pylist()]
        else:
            stored = found["vector"].combine_chunks()
            dim = stored.type.list_size
            sims = stored.values.to_numpy(zero_copy_only=False).reshape(-1, dim) @ vector
            relevance = hybrid_relevance(found["_relevance_score"].to_pylist(), sims)
        memories = rows.to_memories(found)
        weight = self.retrieval.recency_weight if recency_weight is None else recency_weight
        scores = blend(relevance, [m.ts for m in memories], now=now or now_utc(),
                       half_life_days=self.retrieval.half_life_days, recency_weight=weight)
        order = sorted(range(len(memories)),
                       key=lambda i: (-scores[i], -memories[i].ts.timestamp(), memories[i].id))
        return [Hit(memories[i], float(scores[i])) for i in order[:k]]
