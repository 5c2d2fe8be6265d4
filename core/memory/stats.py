"""The person's emotions over time, from the memories: per day, mean valence and arousal and
how often each label occurred.

Only the small tag columns are read (never the vectors or the text), so this stays quick at
100k memories. Days are the person's local days. Only the person's own words count: the
assistant's replies are not the person's emotions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa

from persona.core.memory.browse import BrowseFilter

COLUMNS = ["ts", "emotion", "valence", "arousal"]


@dataclass
class DayEmotion:
    day: date
    count: int
    valence: float  # mean, -1 (unpleasant) .. 1 (pleasant)
    arousal: float  # mean, 0 (calm) .. 1 (excited)
    labels: dict[str, int] = field(default_factory=dict)

    def share(self, label: str) -> float:
        """The fraction of this day's memories tagged ``label``."""
        return self.labels.get(label, 0) / self.count if self.count else 0.0

    def to_dict(self) -> dict:
        return {"day": self.day.isoformat(), "count": self.count,
                "valence": round(self.valence, 3), "arousal": round(self.arousal, 3),
                "labels": dict(self.labels)}


@dataclass
class EmotionStats:
    days: list[DayEmotion]  # oldest first; days without memories are left out
    labels: list[str]  # every label seen, most frequent first

    @property
    def total(self) -> int:
        return sum(d.count for d in self.days)

    def to_dict(self) -> dict:
        return {"total": self.total, "labels": self.labels,
                "days": [d.to_dict() for d in self.days]}


def local_days(utc_us: np.ndarray) -> np.ndarray:
    """Local calendar days (as ordinals) of UTC timestamps in microseconds.

    The zone's offset is looked up once per distinct hour, not per memory: Python's
    datetime per row would hold the GIL for a third of a second at 100k rows (a stutter in
    the app), and offsets only change on the hour.
    """
    hours = utc_us // 3_600_000_000
    unique, inverse = np.unique(hours, return_inverse=True)
    offsets = np.array([datetime.fromtimestamp(int(h) * 3600, timezone.utc).astimezone()
                        .utcoffset().total_seconds() for h in unique], dtype=np.int64)
    local_s = utc_us // 1_000_000 + offsets[inverse]
    return local_s // 86400 + date(1970, 1, 1).toordinal()


def per_day(days: np.ndarray, labels: list[str], label_idx: np.ndarray, valence: np.ndarray,
            arousal: np.ndarray) -> EmotionStats:
    """Group tags by day ordinal (a pure function of the columns; see ``emotion_stats``);
    row i has label ``labels[label_idx[i]]``."""
    if not len(days):
        return EmotionStats([], [])
    uniq, day_idx, counts = np.unique(days, return_inverse=True, return_counts=True)
    table = np.zeros((len(uniq), len(labels)), dtype=np.int64)
    np.add.at(table, (day_idx, label_idx), 1)
    v_mean = np.bincount(day_idx, weights=valence) / counts
    a_mean = np.bincount(day_idx, weights=arousal) / counts
    totals = table.sum(axis=0)
    order = sorted(range(len(labels)), key=lambda j: (-totals[j], labels[j]))
    names = [str(labels[j]) for j in order]
    out = [DayEmotion(date.fromordinal(int(d)), int(counts[i]), float(v_mean[i]),
                      float(a_mean[i]),
                      {names[k]: int(table[i, j]) for k, j in enumerate(order) if table[i, j]})
           for i, d in enumerate(uniq)]
    return EmotionStats(out, names)


def emotion_stats(store, flt: BrowseFilter | None = None) -> EmotionStats:
    """Emotions per day over the person's memories under ``flt`` (default: all of them)."""
    flt = flt or BrowseFilter(speaker="person")
    tbl = store.table
    if tbl is None:
        return EmotionStats([], [])
    where = flt.where()
    q = tbl.search().select(COLUMNS)
    found = store._read("read emotions", lambda: (q.where(where) if where else q)
                        .limit(None).to_arrow())
    micros = found["ts"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    codes = found["emotion"].combine_chunks().dictionary_encode()
    return per_day(local_days(micros), codes.dictionary.to_pylist(),
                   codes.indices.to_numpy(zero_copy_only=False),
                   found["valence"].to_numpy(zero_copy_only=False).astype(float),
                   found["arousal"].to_numpy(zero_copy_only=False).astype(float))
