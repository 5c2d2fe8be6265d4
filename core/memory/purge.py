"""Removing deleted rows from the disk, not just from the table.

LanceDB's ``delete`` only writes a deletion file: the row's text stays in the fragment's data
file, in every older table version, and in the indexes (the full-text index keeps its tokens,
the b-trees its id and text hash, the vector index its embedding). Ordinary compaction
rewrites a fragment only when a tenth of it is deleted. ``purge`` makes forgetting real:

1. every fragment that has a deleted row is rewritten without it (threshold 0);
2. every index is built again from the rows that remain, so no index file was built from
   the forgotten row;
3. every old version, and every file no version refers to, is deleted at once.

It runs under the store's write lock: no other writer of this store is half-way through a
commit, so files that no version lists yet ("unverified") are leftovers, safe to delete.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import timedelta

from lancedb.index import FTS, BTree, IvfFlat

log = logging.getLogger(__name__)


@dataclass
class PurgeResult:
    fragments_rewritten: int
    indexes_rebuilt: list[str]
    files_removed: int  # data, deletion, index and transaction files of old versions
    bytes_removed: int


def _index_config(columns: list[str], index_type: str):
    """The config to build again an index of this store (see MemoryStore._create and
    core.memory.upkeep.maintain_vector_index)."""
    if columns == ["vector"]:
        return IvfFlat(distance_type="cosine")
    if "FTS" in index_type.upper() or "INVERTED" in index_type.upper():
        return FTS()
    return BTree()


def purge_deleted(tbl) -> PurgeResult:
    """Rewrite every fragment holding a deleted row, rebuild every index, and delete every
    old version and unreferenced file of ``tbl`` (a LanceDB table). The caller holds the
    store's write lock."""
    ds = tbl.to_lance()
    dirty = sum(1 for f in ds.get_fragments() if f.count_rows() != f.physical_rows)
    if dirty:
        ds.optimize.compact_files(materialize_deletions=True,
                                  materialize_deletions_threshold=0.0)
    rebuilt = []
    for index in tbl.list_indices():
        columns = list(index.columns)
        # replace=True writes a new index from today's rows; the old files go in the cleanup.
        tbl.create_index(columns[0], config=_index_config(columns, str(index.index_type)),
                         replace=True)
        rebuilt.append(columns[0])
    ds = tbl.to_lance()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "removes every version": intended
        stats = ds.cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)
    removed = sum(getattr(stats, k, 0) or 0 for k in (
        "data_files_removed", "deletion_files_removed", "index_files_removed",
        "transaction_files_removed"))
    log.info("purged the memory store: %d fragments rewritten, indexes %s rebuilt, %d files "
             "removed", dirty, rebuilt, removed)
    return PurgeResult(fragments_rewritten=dirty, indexes_rebuilt=rebuilt,
                       files_removed=removed, bytes_removed=int(stats.bytes_removed or 0))
