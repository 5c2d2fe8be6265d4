"""Memories to Arrow rows and back, and safe SQL literals for LanceDB filters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timezone

import numpy as np
import pyarrow as pa

from persona.core.memory.schema import Memory, arrow_schema

# Every column but the vector: what a read needs to rebuild a Memory.
COLUMNS = ["id", "ts", "source", "speaker", "text", "text_hash", "emotion", "valence",
           "arousal", "emotion_confidence", "conversation_id", "audio_path", "origin"]


def to_arrow(memories: Sequence[Memory], vectors: np.ndarray) -> pa.Table:
    """One Arrow table of ``memories`` with their ``vectors`` (row i has vector i)."""
    assert len(memories) == len(vectors), "one vector per memory"
    dim = int(vectors.shape[1])
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    f32 = pa.float32()
    data = {
        "id": [m.id for m in memories],
        "ts": pa.array([m.ts.astimezone(timezone.utc) for m in memories],
                       pa.timestamp("us", tz="UTC")),
        "source": [m.source for m in memories],
        "speaker": [m.speaker for m in memories],
        "text": [m.text for m in memories],
        "text_hash": [m.hash for m in memories],
        "emotion": [m.emotion for m in memories],
        "valence": pa.array([float(m.valence) for m in memories], f32),
        "arousal": pa.array([float(m.arousal) for m in memories], f32),
        "emotion_confidence": pa.array([float(m.emotion_confidence) for m in memories], f32),
        "conversation_id": pa.array([m.conversation_id for m in memories], pa.string()),
        "audio_path": pa.array([m.audio_path for m in memories], pa.string()),
        "origin": pa.array([m.origin for m in memories], pa.string()),
        "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
    }
    return pa.table(data, schema=arrow_schema(dim))


def to_memory(row: dict) -> Memory:
    """A Memory from one row as a dict (extra keys such as ``_distance`` are ignored)."""
    return Memory(
        text=row["text"], source=row["source"], ts=row["ts"].astimezone(timezone.utc),
        id=row["id"], emotion=row["emotion"], valence=float(row["valence"]),
        arousal=float(row["arousal"]), emotion_confidence=float(row["emotion_confidence"]),
        speaker=row["speaker"], conversation_id=row["conversation_id"],
        audio_path=row["audio_path"], origin=row["origin"])


def to_memories(table: pa.Table) -> list[Memory]:
    return [to_memory(r) for r in table.select(COLUMNS).to_pylist()]


def sql_str(value: str) -> str:
    """``value`` as a quoted SQL string literal (quotes doubled, so any text is safe)."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(sql_str(v) for v in values)})"


def find_in(tbl, column: str, values: list[str], columns: list[str]) -> pa.Table:
    """The ``columns`` of the rows whose ``column`` is one of ``values`` (asked in parts, so
    a big import does not build one huge filter)."""
    parts = [tbl.search().where(sql_in(column, values[i:i + 500])).select(columns)
             .limit(None).to_arrow() for i in range(0, len(values), 500)]
    return pa.concat_tables(parts) if parts else pa.table({c: [] for c in columns})


def where(*, source: str | None = None, speaker: str | None = None,
          exclude_ids: Iterable[str] = (), conversation_id: str | None = None) -> str | None:
    """The filter for the given conditions (None when there are none)."""
    parts = []
    if conversation_id is not None:
        parts.append(f"conversation_id = {sql_str(conversation_id)}")
    if source is not None:
        parts.append(f"source = {sql_str(source)}")
    if speaker is not None:
        parts.append(f"speaker = {sql_str(speaker)}")
    exclude = list(exclude_ids)
    if exclude:
        parts.append(f"NOT ({sql_in('id', exclude)})")
    return " AND ".join(parts) or None
