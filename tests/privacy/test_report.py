"""`persona privacy` data and text, from a real ledger in a temporary home."""

from __future__ import annotations

import json
import math

import pytest

from persona.core.paths import Home
from persona.privacy.ledger import Ledger
from persona.privacy.plan import plan_run
from persona.privacy.rdp import run_epsilon
from persona.privacy.report import build_summary, plan_lines, report_json, report_lines

KEYS = {"runs", "max_record_epsilon", "delta", "budget", "records_exhausted",
        "records_tracked", "epsilon_distribution", "budget_left"}
RUN_KEYS = {"date", "records", "steps", "sigma", "clip_norm", "sample_rate", "q", "delta",
            "epsilon", "status", "private"}


def test_empty_ledger(home):
    summary = build_summary(Ledger(Home.resolve(home).ledger_file))
    assert summary.keys() >= KEYS
    assert summary["runs"] == [] and summary["max_record_epsilon"] == 0.0
    assert summary["delta"] is None and summary["budget"] == 8.0
    assert summary["budget_left"] == {"most_spent_record": 8.0, "median_record": 8.0}
    assert "No training run recorded" in "\n".join(report_lines(summary))
    json.loads(report_json(summary))


def test_summary_of_several_runs(home):
    ledger = Ledger(Home.resolve(home).ledger_file, budget=4.0)
    a = ledger.begin_run(record_ids=[f"r{i}" for i in range(30)], noise_multiplier=1.0,
                         sample_rate=0.05, steps=40, clip_norm=0.5, delta=1e-5,
                         backend="torch", epochs=2)
    ledger.complete_run(a, steps_done=40)
    ledger.begin_run(record_ids=[f"r{i}" for i in range(10)], noise_multiplier=1.0,
                     sample_rate=0.05, steps=40, clip_norm=0.5, delta=1e-5, backend="mlx",
                     epochs=2)  # begun, never completed
    summary = build_summary(ledger)
    assert summary == build_summary(ledger)
    assert summary.keys() >= KEYS
    first, second = summary["runs"]
    assert first.keys() >= RUN_KEYS
    assert (first["records"], first["steps"], first["sigma"], first["clip_norm"], first["q"],
            first["delta"], first["status"], first["private"]) == (
        30, 40, 1.0, 0.5, 0.05, 1e-5, "completed", True)
    assert second["status"] == "begun" and second["backend"] == "mlx"

    one = run_epsilon(noise_multiplier=1.0, sample_rate=0.05, steps=40, delta=1e-5)
    two = run_epsilon(noise_multiplier=1.0, sample_rate=0.05, steps=80, delta=1e-5)
    assert first["epsilon"] == pytest.approx(one)
    assert summary["max_record_epsilon"] == pytest.approx(two)  # r0..r9 compose both runs
    assert summary["median_record_epsilon"] == pytest.approx(one)  # 20 of 30 in one run
    assert summary["records_tracked"] == 30
    assert summary["budget_left"]["most_spent_record"] == pytest.approx(4.0 - two)
    quantiles = summary["epsilon_distribution"]["quantiles"]
    assert quantiles["min"] == pytest.approx(one) and quantiles["max"] == pytest.approx(two)
    assert list(quantiles.values()) == sorted(quantiles.values())
    histogram = summary["epsilon_distribution"]["histogram"]
    assert sum(b["records"] for b in histogram) == 30
    assert histogram[-1]["to"] == math.inf and histogram[0]["from"] == 0

    text = "\n".join(report_lines(summary))
    for expected in ("δ = 1e-05", "lifetime budget ε = 4", "completed", "begun",
                     "counted in full", f"max ε = {two:.2f}", "30 records"):
        assert expected in text
    assert "non-private" not in text
    assert json.loads(report_json(summary))["runs"][1]["status"] == "begun"


def test_plan_lines(home):
    plan = plan_run(Ledger(Home.resolve(home).ledger_file), [f"r{i}" for i in range(40)],
                    target_epsilon=2.0, sample_rate=0.1, epochs=1, delta=1e-4)
    text = "\n".join(plan_lines(plan))
    assert f"ε = {plan.run_epsilon:.2f}" in text and "40 eligible, 0 left out" in text
    assert "creates the privacy ledger" in text
    assert not Ledger(Home.resolve(home).ledger_file).exists
