"""The DP utility benchmark's pieces that need no training: its second text, its settings
and its table (benchmarks/bench_dp_utility.py; the runs themselves are the benchmark's)."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_dp_utility as bench
from benchmarks import train_data


def test_python_docs_are_prose_records_split_by_position():
    head, tail = train_data.sides("pydocs")
    assert len(head) > 800 and len(tail) > 90
    assert all(len(r.split()) >= 8 and "\n" not in r for r in head + tail)
    assert not any(r.startswith(("   ", "***", "===")) for r in head)
    split = train_data.split(680, 0, 96, corpus="pydocs")
    assert {e.target for e in split.heldout} <= set(tail)
    assert {e.target for e in split.train} <= set(head)
    with pytest.raises(ValueError, match="no corpus"):
        train_data.sides("nonsense")


def test_a_setting_is_a_name_or_changes_to_the_default():
    assert bench.setting("default")["batch"] == 32
    s = bench.setting("batch=128,lr=0.01,layers=4")
    assert (s["batch"], s["lr"], s["layers"], s["clip"]) == (128, 0.01, 4, 1.0)
    with pytest.raises(SystemExit):
        bench.setting("nonsense=1")
    assert bench.setting("default")["average"] is True
    assert bench.setting("average=0")["average"] is False


def test_averaging_is_in_the_key_only_where_it_changes_the_run():
    """A run measured before averaging existed has no ``average`` in its setting: it is the
    ``average=0`` run, and σ = 0 runs (which publish their last iterate either way) are one
    run whatever the setting says."""
    s = bench.setting("epochs=2")
    assert bench.keyed(s, "dp")["average"] is True
    assert "average" not in bench.keyed(s, "sigma0")
    assert "average" not in bench.keyed(bench.setting("epochs=2,average=0"), "dp")


def test_the_plan_spends_epsilon_8_and_more_batch_means_fewer_steps():
    small = bench.plan(bench.setting("default"), bench.RECORDS)
    large = bench.plan(bench.setting("batch=128"), bench.RECORDS)
    assert small["steps"] == 22 and large["steps"] == 6
    assert 0 < small["sigma"] < large["sigma"]


def test_the_table_gives_the_kept_share_of_each_setting(tmp_path):
    out = tmp_path / "dp.jsonl"
    done = bench.load(out)
    key = "base-1"
    bench._append(out, done, {"kind": "base", "key": key, "corpus": "shakespeare",
                              "perplexity": 100.0})
    for mode, ppl in (("dp", 82.0), ("sigma0", 80.0)):
        bench._append(out, done, {
            "kind": "run", "key": mode, "corpus": "shakespeare", "name": "default",
            "setting": bench.keyed(bench.setting("default"), mode), "mode": mode,
            "base_key": key,
            "plan": {"steps": 22, "sigma": 0.57 if mode == "dp" else 0.0},
            "perplexity": ppl, "train_seconds": 600.0})
    again = bench.load(out)  # read back from the file, as a later session does
    assert set(again) == set(done)
    row = [c.strip() for c in bench.table(again).splitlines()[2].strip("|").split("|")]
    assert row[0] == "shakespeare" and row[8] == "90%" and row[9] == "90%"
    assert json.loads(out.read_text().splitlines()[0])["machine"]
    # A setting run with --dp-only: no kept share of its own, judged against the best σ0.
    bench._append(out, done, {
        "kind": "run", "key": "dp-b64", "corpus": "shakespeare", "name": "batch=64",
        "setting": bench.keyed(bench.setting("batch=64"), "dp"), "mode": "dp", "base_key": key,
        "plan": {"steps": 11, "sigma": 0.6}, "perplexity": 84.0, "train_seconds": 300.0})
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in bench.table(bench.load(out)).splitlines()[2:]]
    only = next(r for r in rows if r[1].startswith("B 64"))
    assert only[5] == "" and only[8] == "no σ0 run" and only[9] == "80%"
    # A run stored before averaging (no "average" in its setting) is the last iterate's, and
    # the averaged DP run of the same setting is paired with the same σ = 0 run.
    old = {k: v for k, v in bench.setting("default").items() if k != "average"}
    bench._append(out, done, {
        "kind": "run", "key": "dp-old", "corpus": "shakespeare", "name": "default",
        "setting": old, "mode": "dp", "base_key": key,
        "plan": {"steps": 22, "sigma": 0.57}, "perplexity": 86.0, "train_seconds": 600.0})
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in bench.table(bench.load(out)).splitlines()[2:]]
    defaults = [r for r in rows if r[1].startswith("B 32, 1 ep")]
    assert [(r[1].rsplit(", ", 1)[1], r[8]) for r in sorted(defaults, key=lambda r: r[6])] \
        == [("averaged iterate", "90%"), ("last iterate", "70%")]


def test_the_schedule_plan_is_the_ledgers_own_and_stops_at_the_budget():
    """bench_dp_schedule's --plan: nights recorded in a scratch ledger as the runner would,
    until no record may take part in another run."""
    from benchmarks.bench_dp_schedule import schedule_plan

    nights = schedule_plan(40, budget=4.0, run_epsilon=2.0, batch=8)
    assert len(nights) > 2  # runs compose by RDP: two runs at ε 2 spend less than 4
    assert nights[0]["max_epsilon"] == pytest.approx(2.0, abs=0.02)
    assert all(a["max_epsilon"] < b["max_epsilon"] <= 4.0
               for a, b in zip(nights, nights[1:], strict=False))
    assert {n["sigma"] for n in nights} == {nights[0]["sigma"]}  # the same run each night


def test_the_schedule_home_is_carried_between_checkouts_by_a_bundle(tmp_path):
    """bench_dp_schedule --carry: the home goes out as the product's own bundle after a night
    and comes back in a work folder without it; the night count is the ledger's completed
    runs (a run begun and not finished is the next night's), so it survives the trip."""
    from benchmarks.bench_dp_schedule import bring_in, carry_out, nights_done, plan_night
    from persona.core.paths import Home
    from persona.privacy.ledger import Ledger

    home = tmp_path / "work" / "home-pydocs"
    assert nights_done(home) == 0
    home.mkdir(parents=True, mode=0o700)
    Home.resolve(home).privacy_dir.mkdir(mode=0o700)
    ledger = Ledger(Home.resolve(home).ledger_file)
    ids = [f"r{i:05d}" for i in range(40)]
    assert plan_night(ledger, ids, batch=8) and plan_night(ledger, ids, batch=8)
    assert plan_night(ledger, ids, batch=8, complete=False)  # the third night was cut short
    assert nights_done(home) == 2

    carry = tmp_path / "schedule-pydocs.persona"
    first = carry_out(home, carry)
    assert carry_out(home, carry) == carry.stat().st_size > 0 and first > 0  # rewritten
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [carry.name]

    elsewhere = tmp_path / "elsewhere" / "home-pydocs"
    elsewhere.parent.mkdir()
    assert bring_in(carry, elsewhere) and nights_done(elsewhere) == 2
    assert Ledger(Home.resolve(elsewhere).ledger_file).record_epsilons() == \
        ledger.record_epsilons()
    assert not bring_in(carry, elsewhere)  # a home that is there is left as it is


def test_the_schedule_table_shows_the_gates_paired_difference():
    """A night's row says whether the gate kept it and by how much the candidate differed
    from the adapter in use (nats a token ± its standard error); older nights kept none."""
    from benchmarks.bench_dp_schedule import MAX_LEN, RECORDS, table

    key = json.dumps({"corpus": "pydocs", "model": None, "records": RECORDS,
                      "max_len": MAX_LEN}, sort_keys=True)
    night = {"kind": "night", "series": "s", "home": "/h", "corpus": "pydocs", "records": 528,
             "steps": 17, "sigma": 1.08, "max_record_epsilon": 4.6, "seconds": 1800,
             "optimizer_continued": True}
    done = {("base", key): {"kind": "base", "key": key, "corpus": "pydocs", "perplexity": 26.0},
            ("night", "s#1"): dict(night, key="s#1", night=1, perplexity=19.5, promoted=True,
                                   reason="", gate=None),
            ("night", "s#2"): dict(night, key="s#2", night=2, perplexity=19.4, promoted=True,
                                   reason="", gate={"difference": 0.0021,
                                                    "standard_error": 0.0035}),
            ("night", "s#3"): dict(night, key="s#3", night=3, perplexity=19.4, promoted=False,
                                   reason="held-out perplexity got worse beyond noise (+0.0300 "
                                   "± 0.0040 nats a token); kept the current adapter",
                                   gate={"difference": 0.03, "standard_error": 0.004})}
    rows = table(done).splitlines()[2:]
    assert "| yes " in rows[0] and "[" not in rows[0]
    assert "yes [+0.0021 ± 0.0035]" in rows[1]
    assert "no (held-out perplexity got worse beyond noise) [+0.0300 ± 0.0040]" in rows[2]
