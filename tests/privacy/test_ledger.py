"""The privacy ledger on a real file in a temporary home, with real crashes (kill -9 of a real
process), real locks held by another process, and the real Opacus maths. Nothing is mocked."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona.core.errors import PrivacyError
from persona.core.paths import Home
from persona.privacy.journal import FORMAT, canonical, checksum
from persona.privacy.ledger import Ledger
from persona.privacy.plan import plan_run
from persona.privacy.rdp import default_delta, ledger_delta, run_epsilon
from persona.privacy.report import build_summary

CHILD = Path(__file__).resolve().parent / "ledger_child.py"
SIGMA, Q, STEPS, DELTA = 1.0, 0.05, 40, 1e-5
RUN_EPS = run_epsilon(noise_multiplier=SIGMA, sample_rate=Q, steps=STEPS, delta=DELTA)


def ledger_in(home: Path, **options) -> Ledger:
    """The ledger of the home folder ``home``, where Persona keeps it."""
    return Ledger(Home.resolve(home).ledger_file, **options)


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def begin(ledger: Ledger, record_ids, *, sigma=SIGMA, q=Q, steps=STEPS, delta=DELTA, **kw):
    return ledger.begin_run(record_ids=record_ids, noise_multiplier=sigma, sample_rate=q,
                            steps=steps, clip_norm=1.0, delta=delta, backend="torch",
                            epochs=1, **kw)


def lines(ledger: Ledger) -> list[bytes]:
    return ledger.path.read_bytes().splitlines(keepends=True)


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def wait_for(proc: subprocess.Popen, prefix: str) -> str:
    line = proc.stdout.readline()
    if not line.startswith(prefix):
        proc.kill()
        pytest.fail(f"child said {line!r}, stderr: {proc.stderr.read()}")
    return line.split()[-1] if " " in line.strip() else line.strip()


# ---- the file ----------------------------------------------------------------------------

def test_round_trip_and_self_describing_lines(home):
    ledger = ledger_in(home)
    assert not ledger.exists and ledger.delta is None and ledger.runs() == []
    run_id = begin(ledger, ids("a", 30), info={"adapter": "v1"})
    ledger.complete_run(run_id, steps_done=STEPS, info={"loss": 2.5})

    assert ledger.path == Home.resolve(home).privacy_dir / "ledger.jsonl"
    events = [json.loads(raw) for raw in lines(ledger)]
    assert [e["event"] for e in events] == ["create", "begin", "complete"]
    for seq, event in enumerate(events):
        assert event["format"] == FORMAT and event["seq"] == seq
        assert event["checksum"] == checksum(event)
    assert events[1]["prev"] == events[0]["checksum"]

    again = ledger_in(home)  # a fresh reader sees exactly what was written
    (run,) = again.runs()
    assert (run.run_id, run.status, run.outcome, run.steps_done) == (run_id, "completed",
                                                                    "finished", STEPS)
    assert (run.noise_multiplier, run.sample_rate, run.steps, run.clip_norm, run.delta) == (
        SIGMA, Q, STEPS, 1.0, DELTA)
    assert run.private and run.epsilon == pytest.approx(RUN_EPS, rel=1e-12)
    assert run.info == {"adapter": "v1"} and again.delta == DELTA
    assert again.record_epsilons() == pytest.approx(dict.fromkeys(ids("a", 30), RUN_EPS))
    assert again.record_epsilons(["a0", "never-trained"]) == pytest.approx(
        {"a0": RUN_EPS, "never-trained": 0.0})
    assert again.pending_runs() == []


def test_begun_run_is_charged_in_full_before_training(home):
    ledger = ledger_in(home)
    run_id = begin(ledger, ids("a", 10))
    reader = ledger_in(home)  # e.g. `persona privacy` while the run trains
    assert [r.run_id for r in reader.pending_runs()] == [run_id]
    summary = build_summary(reader)
    assert summary["runs"][0]["status"] == "begun"
    assert summary["max_record_epsilon"] == pytest.approx(RUN_EPS, rel=1e-12)
    assert any("counted in full" in n for n in summary["notes"])


def test_kill_9_in_the_middle_of_a_run(home):
    child = spawn("begin", str(home), "25", str(SIGMA), str(Q), str(STEPS))
    try:
        run_id = wait_for(child, "begun")
        time.sleep(0.2)  # it is "training" now
    finally:
        kill9(child)
    ledger = ledger_in(home)
    (run,) = ledger.runs()
    assert run.run_id == run_id and run.status == "begun"
    summary = build_summary(ledger)
    # At least what was spent: the full planned run, for every record it could sample.
    assert summary["max_record_epsilon"] >= RUN_EPS * (1 - 1e-12)
    assert summary["records_tracked"] == 25
    assert min(ledger.record_epsilons().values()) >= RUN_EPS * (1 - 1e-12)
    # The dead process left no stale lock: the next run can be written at once.
    begin(ledger, ids("b", 5), lock_timeout=1.0)
    assert len(ledger.runs()) == 2


def test_kill_9_while_writing_loses_nothing_that_was_reported(home):
    # Big runs (20,000 ids, ~300 kB lines), killed at an arbitrary moment of the loop. On
    # Linux a kill cannot split one write(2) to a file, so torn lines (power loss, a full
    # disk) are made by hand in the next test.
    child = spawn("churn", str(home), "20000")
    said = []
    try:
        while sum(line.startswith("begun") for line in said) < 3:
            said.append(child.stdout.readline())
            assert said[-1], f"child ended: {child.stderr.read()}"
        time.sleep(0.05 + (os.getpid() % 7) * 0.03)
    finally:
        kill9(child)
    said += child.stdout.read().split("\n")
    ledger = ledger_in(home)
    runs = {r.run_id: r for r in ledger.runs()}
    begun = {line.split()[1] for line in said if line.startswith("begun")}
    completed = {line.split()[1] for line in said if line.startswith("completed")}
    assert len(runs) >= 3 and begun <= runs.keys()
    assert all(runs[r].status == "completed" for r in completed)
    assert all(eps >= RUN_EPS * (1 - 1e-12) for eps in ledger.record_epsilons().values())
    begin(ledger, ids("after", 3))  # repairs a torn tail, if any, and appends cleanly
    assert ledger.path.read_bytes().endswith(b"\n")
    assert len(ledger_in(home).runs()) == len(runs) + 1


def test_torn_last_line_is_tolerated_then_repaired(home):
    ledger = ledger_in(home)
    begin(ledger, ids("a", 10))
    before = build_summary(ledger)
    whole = lines(ledger)[-1]
    with open(ledger.path, "ab") as f:  # a crash half way through writing the next event
        f.write(whole[: len(whole) // 2])
    assert build_summary(ledger_in(home)) == before

    begin(ledger, ids("b", 5))
    assert len(lines(ledger)) == 3 and all(raw.endswith(b"\n") for raw in lines(ledger))
    assert len(ledger.runs()) == 2
    (aside,) = ledger.path.parent.glob("ledger.jsonl.torn-*")  # kept, never silently lost
    assert aside.read_bytes() == whole[: len(whole) // 2]


def test_whole_last_line_without_newline_is_kept(home):
    ledger = ledger_in(home)
    begin(ledger, ids("a", 4))
    ledger.path.write_bytes(ledger.path.read_bytes()[:-1])
    assert len(ledger.runs()) == 1
    begin(ledger, ids("b", 4))
    assert len(ledger.runs()) == 2 and len(lines(ledger)) == 3


@pytest.mark.parametrize("damage", ["edit", "forge", "drop", "garbage-middle", "garbage-last"])
def test_any_other_bad_line_is_a_clear_error(home, damage):
    ledger = ledger_in(home)
    for prefix in "abc":
        begin(ledger, ids(prefix, 3))
    raw = lines(ledger)
    event = json.loads(raw[1])
    if damage == "edit":  # fewer steps: would under-report if believed
        raw[1] = raw[1].replace(b'"steps":40', b'"steps":4')
    elif damage == "forge":  # edited and re-checksummed: the next line's chain breaks
        event["steps"] = 4
        event["checksum"] = checksum(event)
        raw[1] = canonical(event) + b"\n"
    elif damage == "drop":
        del raw[2]
    elif damage == "garbage-middle":
        raw.insert(2, b"{not json\n")
    else:  # a bad last line that *does* end in a newline was not torn by a crash
        raw.append(b"{not json\n")
    ledger.path.write_bytes(b"".join(raw))
    with pytest.raises(PrivacyError, match=r"damaged at line \d+.*restore"):
        build_summary(ledger)
    with pytest.raises(PrivacyError, match="damaged"):
        begin(ledger, ids("d", 3))  # and nothing is appended to a damaged ledger
    assert b"".join(raw) == ledger.path.read_bytes()


def test_lock_stops_a_concurrent_writer(home):
    ledger = ledger_in(home)
    child = spawn("hold-lock", str(home))
    try:
        wait_for(child, "locked")
        with pytest.raises(PrivacyError, match=f"another process \\(pid {child.pid}\\)"):
            begin(ledger, ids("a", 3), lock_timeout=0.3)
        assert ledger.runs() == []
    finally:
        kill9(child)
    begin(ledger, ids("a", 3), lock_timeout=2.0)
    assert len(ledger.runs()) == 1


# ---- accounting ----------------------------------------------------------------------------

def test_records_compose_every_run_they_took_part_in(home):
    ledger = ledger_in(home)
    steps = [40, 25, 60]
    begin(ledger, ids("old", 5) + ["x"], steps=steps[0])
    begin(ledger, ids("old", 5), steps=steps[1])
    begin(ledger, ids("old", 5) + ["x", "new"], steps=steps[2])
    eps = ledger.record_epsilons()
    one_long = run_epsilon(noise_multiplier=SIGMA, sample_rate=Q, steps=sum(steps), delta=DELTA)
    assert eps["old0"] == pytest.approx(one_long, rel=1e-12)
    assert eps["x"] == pytest.approx(run_epsilon(noise_multiplier=SIGMA, sample_rate=Q,
                                                 steps=steps[0] + steps[2], delta=DELTA),
                                     rel=1e-12)
    assert eps["new"] == pytest.approx(run_epsilon(noise_multiplier=SIGMA, sample_rate=Q,
                                                   steps=steps[2], delta=DELTA), rel=1e-12)
    assert eps["new"] < eps["x"] < eps["old0"] < sum(r.epsilon for r in ledger.runs())
    assert build_summary(ledger)["max_record_epsilon"] == eps["old0"]


def test_completion_never_lowers_the_charge(home):
    ledger = ledger_in(home)
    short = begin(ledger, ["a"])
    ledger.complete_run(short, steps_done=3, outcome="stopped")
    assert ledger.record_epsilons()["a"] == pytest.approx(RUN_EPS, rel=1e-12)
    long = begin(ledger, ["b"])
    ledger.complete_run(long, steps_done=2 * STEPS)  # ran past its plan: charged what ran
    assert ledger.record_epsilons()["b"] == pytest.approx(
        run_epsilon(noise_multiplier=SIGMA, sample_rate=Q, steps=2 * STEPS, delta=DELTA))
    with pytest.raises(PrivacyError, match="already completed"):
        ledger.complete_run(short, steps_done=STEPS)
    with pytest.raises(PrivacyError, match="no run 'nope'"):
        ledger.complete_run("nope", steps_done=1)
    with pytest.raises(PrivacyError, match="outcome"):
        ledger.complete_run(begin(ledger, ["c"]), steps_done=1, outcome="great")


def test_record_at_its_budget_is_never_eligible_again(home):
    begin(ledger_in(home), ids("a", 20))
    spent = ledger_in(home).record_epsilons()["a0"]
    ledger = ledger_in(home)
    # The budget is pinned in the ledger: lowering it is a logged event (issue 8, leak 5).
    ledger.set_budget(budget=spent)  # these records are now exactly at their budget
    for sigma, q, steps in [(SIGMA, Q, STEPS), (50.0, 0.001, 1)]:  # even a negligible run
        eligible, excluded = ledger.affordable(ids("a", 20) + ["fresh"], noise_multiplier=sigma,
                                               sample_rate=q, steps=steps)
        assert eligible == ["fresh"] and excluded == ids("a", 20)
    plan = plan_run(ledger, ids("a", 20) + ids("new", 5), target_epsilon=spent / 2,
                           batch_size=5)
    assert plan.eligible_ids == ids("new", 5)
    assert plan.excluded == 20 and plan.exhausted == 20
    tiny = plan_run(ledger, ["a0", "new0"], target_epsilon=0.3, sample_rate=0.5)
    assert tiny.eligible_ids == ["new0"] and tiny.exhausted == 1
    with pytest.raises(PrivacyError, match="1 of 2 records cannot afford"):
        begin(ledger, ["a3", "new0"], sigma=50.0, q=0.001, steps=1)
    summary = build_summary(ledger)
    assert summary["records_exhausted"] == 20
    assert summary["budget_left"]["most_spent_record"] == 0.0


def test_nightly_runs_stop_at_the_budget_and_new_records_still_train(home):
    ledger = ledger_in(home, budget=3.0)
    candidates: list[str] = []
    eligible_per_night = []
    for night in range(5):
        candidates += ids(f"n{night}-", 20)
        # A fixed q keeps σ the same every night, so the composition below is exact.
        plan = plan_run(ledger, candidates, target_epsilon=2.0, sample_rate=0.1, epochs=1,
                               delta=1e-4)
        assert set(plan.eligible_ids) | set(plan.excluded_ids) == set(candidates)
        assert set(ids(f"n{night}-", 20)) <= set(plan.eligible_ids)  # new records train
        assert plan.run_epsilon <= 2.0 and plan.projected_max_epsilon <= 3.0
        eligible_per_night.append(set(plan.eligible_ids))
        run_id = ledger.begin_run(**plan.begin_kwargs(), clip_norm=1.0, backend="mlx")
        ledger.complete_run(run_id, steps_done=plan.steps)
        assert max(ledger.record_epsilons().values()) <= 3.0
    # One run spends ε ≈ 1.99; composed: 2.52 after two, 2.94 after three, 3.31 after four.
    assert all("n0-0" in eligible_per_night[i] for i in range(3))
    assert all("n0-0" not in eligible_per_night[i] for i in (3, 4))
    assert "n1-0" in eligible_per_night[3] and "n1-0" not in eligible_per_night[4]
    eps = ledger.record_epsilons()
    assert eps["n0-0"] == pytest.approx(run_epsilon(
        noise_multiplier=plan.noise_multiplier, sample_rate=0.1, steps=30, delta=1e-4))
    assert build_summary(ledger)["records_tracked"] == 100


def test_plan_rechecked_under_the_lock(home):
    ledger = ledger_in(home, budget=2.0)
    plan = plan_run(ledger, ids("a", 10), target_epsilon=2.0, sample_rate=0.1, delta=DELTA)
    other = ledger_in(home, budget=2.0)  # another process spends the budget first
    other.begin_run(**plan.begin_kwargs(), clip_norm=1.0, backend="torch")
    with pytest.raises(PrivacyError, match="10 of 10 records cannot afford"):
        ledger.begin_run(**plan.begin_kwargs(), clip_norm=1.0, backend="torch")
    assert len(ledger.runs()) == 1


def test_non_private_runs_are_reported_plainly(home):
    from persona.privacy.report import report_json, report_lines

    ledger = ledger_in(home)
    begin(ledger, ids("p", 5))
    plan = plan_run(ledger, ids("np", 5), target_epsilon=math.inf, batch_size=2)
    assert plan.noise_multiplier == 0 and not plan.private and plan.eligible_ids == ids("np", 5)
    assert "non-private: no DP guarantee" in plan.notes[0]
    run_id = ledger.begin_run(**plan.begin_kwargs(), clip_norm=1.0, backend="torch")
    ledger.complete_run(run_id, steps_done=plan.steps)

    run = ledger.runs()[1]
    assert not run.private and run.epsilon == math.inf
    eps = ledger.record_epsilons()
    assert eps["np0"] == math.inf and math.isfinite(eps["p0"])
    summary = build_summary(ledger)
    assert [r["private"] for r in summary["runs"]] == [True, False]
    assert summary["max_record_epsilon"] == math.inf and summary["records_nonprivate"] == 5
    assert not summary["private"]
    assert any("non-private: no DP guarantee" in n for n in summary["notes"])
    text = "\n".join(report_lines(summary))
    assert text.count("non-private: no DP guarantee") == 2  # the run's row and the note
    as_json = json.loads(report_json(summary), parse_constant=pytest.fail)  # strict JSON
    assert as_json["max_record_epsilon"] == "inf" and as_json["runs"][1]["epsilon"] == "inf"
    # Their ε is inf: they never take part in a private run again.
    assert ledger.affordable(["np0", "p0"], noise_multiplier=SIGMA, sample_rate=Q,
                             steps=STEPS)[1] == ["np0"]


def test_delta_is_fixed_when_the_ledger_is_created(home):
    ledger = ledger_in(home)
    begin(ledger, ids("a", 200), delta=None)  # default 1/n**1.1, n at least 10000
    assert ledger.delta == pytest.approx(default_delta(10_000)) == ledger_delta(200)
    assert json.loads(lines(ledger)[0])["delta_source"] == \
        "default 1/n**1.1 for n = 10000 (at least; 200 records)"
    with pytest.raises(PrivacyError, match=r"δ is 3\.98107e-05.*δ = 1e-05"):
        begin(ledger, ids("b", 5), delta=1e-5)
    with pytest.raises(PrivacyError, match="δ"):
        plan_run(ledger, ids("b", 5), batch_size=2, delta=1e-6)
    with pytest.raises(PrivacyError, match="δ"):
        ledger.affordable(["b"], noise_multiplier=1.0, sample_rate=0.1, steps=5, delta=1e-6)
    begin(ledger, ids("b", 5), delta=ledger_delta(200))  # the same δ, or none, is fine
    begin(ledger, ids("c", 5), delta=None)
    assert [r.delta for r in ledger.runs()] == [ledger_delta(200)] * 3


def test_a_large_first_run_fixes_delta_from_its_own_n(home):
    ledger = ledger_in(home)
    begin(ledger, ids("a", 12_000), delta=None)
    assert ledger.delta == pytest.approx(default_delta(12_000))
    assert ledger.delta < default_delta(10_000)
    assert json.loads(lines(ledger)[0])["delta_source"] == "default 1/n**1.1 for n = 12000"


def test_dry_run_writes_nothing(home):
    ledger = ledger_in(home)
    plan = plan_run(ledger, ids("a", 50), batch_size=10)
    assert plan.new_ledger and plan.noise_multiplier > 0 and len(plan.eligible_ids) == 50
    ledger.begin_run(**plan.begin_kwargs(), clip_norm=1.0, backend="torch", dry_run=True)
    ledger.affordable(ids("a", 50), noise_multiplier=1.0, sample_rate=0.1, steps=10)
    build_summary(ledger)
    assert list(Path(home).iterdir()) == []  # not even the privacy folder

    run_id = ledger.begin_run(**plan.begin_kwargs(), clip_norm=1.0, backend="torch")
    ledger.complete_run(run_id, steps_done=plan.steps)
    header = json.loads(lines(ledger)[0])
    assert header["delta"] == plan.delta == ledger_delta(50) == default_delta(10_000)
    assert header["delta_source"] == "default 1/n**1.1 for n = 10000 (at least; 50 records)"
    snapshot = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
                for p in ledger.path.parent.iterdir()}
    again = plan_run(ledger, ids("a", 50) + ids("b", 10), batch_size=10)
    assert not again.new_ledger
    ledger.begin_run(**again.begin_kwargs(), clip_norm=1.0, backend="torch", dry_run=True)
    assert snapshot == {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
                        for p in ledger.path.parent.iterdir()}
    with pytest.raises(PrivacyError, match="δ"):  # a dry run checks what a real one would
        ledger.begin_run(**again.begin_kwargs() | {"delta": 0.1}, clip_norm=1.0,
                         backend="torch", dry_run=True)


@pytest.mark.parametrize(("change", "message"), [
    ({"record_ids": ["a", "b", "a"]}, "'a' is listed twice"),
    ({"record_ids": []}, "at least one record"),
    ({"record_ids": "abc"}, "not one string"),
    ({"record_ids": ["a", ""]}, "non-empty strings"),
    ({"clip_norm": -1.0}, "clip_norm"),
    ({"sample_rate": 0.0}, "sample_rate"),
    ({"noise_multiplier": -0.5}, "noise_multiplier"),
    ({"backend": ""}, "backend"),
    ({"delta": 1.0}, "delta"),
])
def test_bad_run_is_refused_and_nothing_is_written(home, change, message):
    ledger = ledger_in(home)
    args = {"record_ids": ["a", "b"], "noise_multiplier": SIGMA, "sample_rate": Q,
            "steps": STEPS, "clip_norm": 1.0, "delta": DELTA, "backend": "torch", "epochs": 1}
    with pytest.raises(PrivacyError, match=message):
        ledger.begin_run(**(args | change))
    assert not ledger.exists


def test_a_ledger_is_the_file_its_caller_names(home, tmp_path):
    assert Ledger(tmp_path / "elsewhere.jsonl", budget=3.0).budget == 3.0
    home.mkdir(exist_ok=True)
    with pytest.raises(PrivacyError, match="a privacy ledger is a file"):
        Ledger(home)  # a home folder, as callers passed before: refused, with the fix
    with pytest.raises(PrivacyError, match="Home.ledger_file"):
        Ledger(Home.resolve(home))


def test_bad_budget_and_plans_are_clear_errors(home):
    with pytest.raises(PrivacyError, match="budget"):
        ledger_in(home, budget=0)
    ledger = ledger_in(home)
    with pytest.raises(PrivacyError, match="above the lifetime budget"):
        plan_run(ledger, ["a"], target_epsilon=9.0, batch_size=1)
    with pytest.raises(PrivacyError, match="exactly one"):
        plan_run(ledger, ["a"], batch_size=1, sample_rate=0.5)
    with pytest.raises(PrivacyError, match="epochs"):
        plan_run(ledger, ["a"], batch_size=1, epochs=0)
