"""The person's emotions over time, from the memories: per day, mean valence and arousal and
how often each label occurred.

Only the small tag columns are read (never the vectors or the text), so this stays quick at
100k memories. Days are the person's local days. Only the person's own words count: the
assistant's replies are not the person's emotions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from core.memory.browse import BrowseFilter

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


def per_day(timestamps: list[datetime], emotions: list[str], valence: np.ndarray,
            arousal: np.ndarray) -> EmotionStats:
    """Group tags by local day (a pure function of the columns; see ``emotion_stats``)."""
    days = np.array([ts.astimezone().date().toordinal() for ts in timestamps], dtype=np.int64)
    out: list[DayEmotion] = []
    totals: Counter[str] = Counter()
    if len(days):
        order = np.argsort(days, kind="stable")
        days, valence, arousal = days[order], valence[order], arousal[order]
        labels = [emotions[i] for i in order]
        starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
        ends = np.r_[starts[1:], len(days)]
        for a, b in zip(starts, ends, strict=True):
            counts = Counter(labels[a:b])
            totals.update(counts)
            out.append(DayEmotion(date.fromordinal(int(days[a])), int(b - a),
                                  float(valence[a:b].mean()), float(arousal[a:b].mean()),
                                  dict(counts.most_common())))
    return EmotionStats(out, [label for label, _ in totals.most_common()])


def emotion_stats(store, flt: BrowseFilter | None = None) -> EmotionStats:
    """Emotions per day over the person's memories under ``flt`` (default: all of them)."""
    flt = flt or BrowseFilter(speaker="person")
    tbl = store.table
    if tbl is None:
        return EmotionStats([], [])
    where = flt.where()
    with store._errors("read emotions"):
        q = tbl.search().select(COLUMNS)
        found = (q.where(where) if where else q).limit(None).to_arrow()
    return per_day(found["ts"].to_pylist(), found["emotion"].to_pylist(),
                   found["valence"].to_numpy(zero_copy_only=False).astype(float),
                   found["arousal"].to_numpy(zero_copy_only=False).astype(float))
