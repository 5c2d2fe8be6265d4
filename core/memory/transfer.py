"""The memory table in and out of a persona bundle, as an Arrow IPC stream.

Rows go out batch by batch (a few thousand at a time) with their embeddings, so a store of
any size streams through in bounded memory; they come back into a new table with the same
schema, and the same indexes the store builds (full-text, b-trees, the vector index once
the table is large enough).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import lancedb
import pyarrow as pa
from lancedb.index import FTS, BTree

from persona.core.errors import BundleError
from persona.core.memory import upkeep
from persona.core.memory.schema import arrow_schema
from persona.core.memory.store import TABLE

BATCH_ROWS = 4096


def open_table(memory_dir: Path):
    """The memory table of ``memory_dir``, or None when nothing was ever stored."""
    if not Path(memory_dir).exists():
        return None
    try:
        return lancedb.connect(str(memory_dir)).open_table(TABLE)
    except ValueError:  # "Table 'memories' was not found"
        return None


def table_ipc_chunks(tbl, on_rows=None) -> Iterator[bytes]:
    """The rows of ``tbl`` (one consistent version) as Arrow IPC stream bytes, in pieces."""
    ds = tbl.to_lance()  # pinned to the version current now: later writes are not mixed in
    sink = io.BytesIO()
    rows = 0
    with pa.ipc.new_stream(sink, ds.schema) as writer:
        for batch in ds.to_batches(batch_size=BATCH_ROWS):
            writer.write_batch(batch)
            rows += batch.num_rows
            if on_rows is not None:
                on_rows(rows)
            yield sink.getvalue()
            sink.seek(0)
            sink.truncate()
    yield sink.getvalue()  # the end-of-stream marker written on close


def restore_table(ipc_file: Path, memory_dir: Path) -> int:
    """Create the memory table in ``memory_dir`` from ``ipc_file``; the number of rows."""
    with pa.OSFile(str(ipc_file), "rb") as f:
        reader = pa.ipc.open_stream(f)
        schema = reader.schema
        vector = schema.field("vector").type if "vector" in schema.names else None
        dim = getattr(vector, "list_size", None)
        if not dim or schema.names != arrow_schema(dim).names:
            raise BundleError(f"its memory table has the columns {schema.names}, which this "
                              f"Persona does not know; import it with the Persona that made "
                              f"it")
        tbl = lancedb.connect(str(memory_dir)).create_table(TABLE, data=reader, schema=schema)
    # The indexes MemoryStore builds, so search is as fast as in the original home.
    tbl.create_index("text", config=FTS(), replace=True)
    for column in ("text_hash", "id"):
        tbl.create_index(column, config=BTree(), replace=True)
    upkeep.maintain_vector_index(tbl, min_rows=upkeep.StoreOptions().vector_index_min_rows)
    return tbl.count_rows()
