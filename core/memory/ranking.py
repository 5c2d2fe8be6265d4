"""How retrieved memories are ordered: relevance, then a gentle pull toward recent ones.

Pure maths, no I/O. LanceDB fuses the vector and full-text rankings (RRF); this module
only blends that relevance with recency:

    score = (1 - w) * relevance / best_relevance + w * 0.5 ** (age_days / half_life_days)

Relevance is taken relative to the best candidate, so with the default weight (0.15)
recency re-orders near-ties but cannot lift a poor match above a clearly better one.

RRF scores depend on ranks only: neighbours differ by ~1.6% whether their meanings are
nearly equal or far apart, so on its own any recency weight would re-order them. In hybrid
mode the relevance is therefore half RRF, half cosine similarity (``hybrid_relevance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

MODES = ("hybrid", "vector", "fts")


@dataclass
class RetrievalOptions:
    """How many memories a search returns and how much newer ones are preferred."""

    k: int = 5
    half_life_days: float = 30.0  # a memory this old gets half the recency bonus of a new one
    recency_weight: float = 0.15  # 0 = relevance only
    overfetch: int = 4  # candidates per result, so recency has something to re-order
    min_candidates: int = 20

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")
        if self.half_life_days <= 0:
            raise ValueError(f"half_life_days must be positive, not {self.half_life_days}")
        if not 0.0 <= self.recency_weight <= 1.0:
            raise ValueError(f"recency_weight must be within [0, 1], not {self.recency_weight}")

    @classmethod
    def from_settings(cls, settings) -> RetrievalOptions:
        return cls(k=settings.retrieval_k, half_life_days=settings.recency_half_life_days,
                   recency_weight=settings.recency_weight)

    def candidates(self, k: int) -> int:
        """How many results to ask LanceDB for when ``k`` are wanted."""
        return max(k * self.overfetch, self.min_candidates)


def recency(ts: Sequence[datetime], now: datetime, half_life_days: float) -> np.ndarray:
    """Exponential decay in [0, 1]: 1 for now (or the future), 0.5 one half-life ago."""
    ages = np.array([(now - t).total_seconds() / 86400.0 for t in ts], dtype=np.float64)
    return np.power(0.5, np.clip(ages, 0.0, None) / half_life_days)


def blend(relevance: Sequence[float], ts: Sequence[datetime], *, now: datetime,
          half_life_days: float, recency_weight: float) -> np.ndarray:
    """The final scores of candidates with raw ``relevance`` (higher is better, any scale)
    stored at times ``ts``."""
    rel = _relative(relevance)
    if rel.size == 0 or recency_weight == 0:
        return rel
    return (1.0 - recency_weight) * rel + recency_weight * recency(ts, now, half_life_days)


def _relative(values: Sequence[float]) -> np.ndarray:
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    best = v.max() if v.size else 0.0
    return v / best if best > 0 else v


def hybrid_relevance(rrf: Sequence[float], similarity: Sequence[float]) -> np.ndarray:
    """Relevance of hybrid candidates: the mean of their RRF score and their cosine
    similarity to the query, each relative to the best candidate. RRF keeps the order the
    two searches agree on; similarity says how much better the better one is."""
    return 0.5 * _relative(rrf) + 0.5 * _relative(similarity)
