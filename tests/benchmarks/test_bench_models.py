"""bench_models' arithmetic and table on recorded results (no model runs here: the jobs
themselves are the other benchmarks, run by `python -m benchmarks.bench_models`)."""

from __future__ import annotations

import pytest

from benchmarks.bench_models import format_wide, nightly_minutes, recommend

NIGHTLY = {"tokens": 5_000, "seconds": 400.0, "train_seconds": 300.0, "trained_tokens": 4_600,
           "rss_mb": 3000.0}


def _model(answerable: float, app_rss: float, audio: str) -> dict:
    return {"grounded": {"answerable": answerable, "answerable_text": f"{answerable:.0%}",
                         "dont_know": 0.5, "dont_know_text": "50%", "targets": [0.9, 0.8]},
            "app": {"first_token": "0.5 s (p95 0.7)", "first_audio": audio,
                    "cold_ask_first_word": "2.0 s", "cold_ask": "3.0 s", "rss_mb": app_rss},
            "llamacpp": {"tps": 30.0},
            "train": {"tokens": 1000, "seconds": 20.0, "steps": 3, "rss_mb": 2000.0,
                      "cpu_seconds": 40.0},
            "nightly": dict(NIGHTLY, tokens=50_000, seconds=600.0)}


def test_fewer_tokens_are_extrapolated_to_50k_with_the_fixed_part_bounded():
    low, high, extrapolated = nightly_minutes(NIGHTLY)
    assert extrapolated
    # training x10; the other 100 s once (low) or x10 (high)
    assert low == pytest.approx((3000 + 100) / 60) and high == pytest.approx((3000 + 1000) / 60)
    assert nightly_minutes(dict(NIGHTLY, tokens=50_000)) == (400 / 60, 400 / 60, False)


def test_the_table_is_side_by_side_and_the_default_is_the_most_accurate_that_fits():
    results = {"small": _model(0.5, 1000, "0.8 s (p95 0.9)"),
               "mid": _model(0.8, 1500, "0.9 s (p95 1.0)"),
               "big": _model(0.95, 3000, "0.9 s (p95 1.0)")}  # over 2 GB of app RSS
    table = format_wide(results)
    assert [c.strip() for c in table.splitlines()[0].split("|")[3:6]] == ["small", "mid", "big"]
    assert "3000 MB ✗" in table and "1500 MB ✓" in table
    assert recommend(results).endswith(": mid")
    slow = dict(results, mid=_model(0.8, 1500, "1.5 s (p95 2.0)"))
    assert recommend(slow).endswith(": small")
    half = {"mid": {k: v for k, v in results["mid"].items() if k != "nightly"}}
    assert "EXTRAPOLATED" not in format_wide(half) and "no model meets" in recommend(half)
