"""The pure maths of ordering: recency decay, blending, hybrid relevance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from persona.core.memory.ranking import RetrievalOptions, blend, hybrid_relevance, recency
from persona.core.settings import Settings

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_recency_halves_every_half_life_and_ignores_the_future():
    ts = [NOW, NOW - timedelta(days=30), NOW - timedelta(days=60), NOW + timedelta(days=3)]
    assert np.allclose(recency(ts, NOW, 30.0), [1.0, 0.5, 0.25, 1.0])


def test_blend_weights_relevance_against_recency():
    ts = [NOW - timedelta(days=300), NOW]
    # Equal relevance: the newer wins. A clear relevance gap: recency cannot overturn it.
    eq = blend([2.0, 2.0], ts, now=NOW, half_life_days=30, recency_weight=0.15)
    assert eq[1] > eq[0]
    gap = blend([1.0, 0.5], ts, now=NOW, half_life_days=30, recency_weight=0.15)
    assert gap[0] > gap[1]
    assert np.allclose(blend([4.0, 1.0], ts, now=NOW, half_life_days=30, recency_weight=0),
                       [1.0, 0.25])
    assert blend([], [], now=NOW, half_life_days=30, recency_weight=0.5).size == 0


def test_hybrid_relevance_keeps_how_much_better_the_best_is():
    # RRF of ranks 1 and 2 differs by ~1.6%; similarity 0.55 vs 0.39 tells the real gap.
    rel = hybrid_relevance([1 / 61, 1 / 62], [0.55, 0.39])
    assert rel[0] == pytest.approx(1.0) and rel[1] < 0.87


def test_options_come_from_the_settings_and_are_checked():
    s = Settings(retrieval_k=7, recency_half_life_days=10, recency_weight=0.3)
    opts = RetrievalOptions.from_settings(s)
    assert (opts.k, opts.half_life_days, opts.recency_weight) == (7, 10, 0.3)
    assert opts.candidates(7) == 28 and opts.candidates(1) == 20
    with pytest.raises(ValueError, match="recency_weight"):
        RetrievalOptions(recency_weight=1.5)
