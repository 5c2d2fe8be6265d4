"""The nightly schedule, night after night, against a record's lifetime budget (issue 10).

One home holds a text's 680 training records (benchmarks/train_data.py, the same records as
bench_dp_utility) as memories. Each night is the product's own job (``run_training`` with its
defaults: ε = 2 a run, the ledger's lifetime budget of 8, its promotion gate on the home's own
held-out slice), in a process of its own; after it, the held-out perplexity of the home's
current adapter on the text's 96 held-out records, the base model's being bench_dp_utility's.

    python -m benchmarks.bench_dp_schedule --plan               # the schedule, no training
    python -m benchmarks.bench_dp_schedule --corpus pydocs --nights 3 --work DIR
    python -m benchmarks.bench_dp_schedule --table

The ledger composes a record's runs by Rényi DP, so ε = 2 a night reaches the budget of 8
only after ~30 nights (``--plan``); at ~15 min a night here the whole schedule is hours of
training, more than one sitting. ``--work DIR`` keeps the home, so a later call goes on from
the last night; ``--carry FILE`` also keeps it as a persona bundle (the product's own export,
with its adapters and ledger) written after every night, and a call whose work folder has no
home imports it first, so the schedule goes on in another checkout or on another machine.
Each night is appended to benchmarks/results/dp_utility.jsonl (kind "night"), keyed by the
series (the carry file's name, else the home's folder) and the night's number in the home's
ledger.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_dp_utility import OUT, RECORDS, _append, load
from benchmarks.bench_train import job
from benchmarks.table import format_grid

MAX_LEN = 128  # the product's tokens per example (TrainOptions.max_seq_len)
# The carried bundle holds the benchmark's public text and its adapters, nothing personal;
# the passphrase only satisfies the bundle format.
CARRY_PASSPHRASE = "persona-benchmark-schedule"


def plan_night(ledger, ids: list[str], *, run_epsilon: float = 2.0, batch: int = 32,
               complete: bool = True) -> dict | None:
    """Plan one night of ``ids`` in ``ledger`` and record it as the runner would (begun, and
    completed unless ``complete`` is false), without training; None once no record may
    take part in another run."""
    from persona.privacy.plan import plan_run

    p = plan_run(ledger, ids, target_epsilon=run_epsilon, delta=None, batch_size=batch,
                 epochs=1.0)
    if not p.eligible_ids:
        return None
    run_id = ledger.begin_run(**p.begin_kwargs(), clip_norm=1.0, backend="torch", info={})
    if complete:
        ledger.complete_run(run_id, steps_done=p.steps)
    return {"records": len(p.eligible_ids), "steps": p.steps, "sigma": p.noise_multiplier,
            "max_epsilon": p.projected_max_epsilon}


def schedule_plan(n_records: int, *, budget: float = 8.0, run_epsilon: float = 2.0,
                  batch: int = 32) -> list[dict]:
    """The nights a ledger allows ``n_records`` records (all eligible each night), planned
    and recorded in a scratch ledger as the runner would (no training)."""
    from persona.privacy.ledger import Ledger

    nights = []
    with tempfile.TemporaryDirectory(prefix="persona-bench-plan-") as tmp:
        ledger = Ledger(Path(tmp) / "ledger.jsonl", budget=budget)
        ids = [f"r{i:05d}" for i in range(n_records)]
        while night := plan_night(ledger, ids, run_epsilon=run_epsilon, batch=batch):
            nights.append({"night": len(nights) + 1, **night})
        return nights


def base_perplexity(corpus: str, model: str | None, out: Path, done: dict) -> float:
    """The base model's held-out perplexity (bench_dp_utility's entry, or measured now)."""
    key = json.dumps({"corpus": corpus, "model": model, "records": RECORDS,
                      "max_len": MAX_LEN}, sort_keys=True)
    if ("base", key) not in done:
        t0 = time.perf_counter()
        losses = job(dict(RECORDS, corpus=corpus, model=model, max_len=MAX_LEN,
                          job="losses", sets=["heldout"]))
        _append(out, done, {"kind": "base", "key": key, "corpus": corpus,
                            "perplexity": losses["heldout_perplexity"],
                            "seconds": time.perf_counter() - t0})
    return done[("base", key)]["perplexity"]


def nights_done(home: Path) -> int:
    """The runs the home's ledger holds as completed: the nights already trained there (a
    run begun and not completed is the next night's, which resumes it)."""
    from persona.core.paths import Home
    from persona.privacy.ledger import Ledger

    ledger_file = Home.resolve(home).ledger_file
    if not ledger_file.is_file():
        return 0
    return sum(run.status != "begun" for run in Ledger(ledger_file).runs())


def bring_in(carry: Path, home: Path) -> bool:
    """Import the carried bundle as ``home`` when there is no home yet; True if it did."""
    from persona.core.bundle import import_persona

    if home.exists() or not carry.is_file():
        return False
    import_persona(carry, home, passphrase=CARRY_PASSPHRASE)
    return True


def carry_out(home: Path, carry: Path) -> int:
    """Export ``home`` over ``carry`` (a new file first, then renamed: a crash keeps the old)."""
    from persona.core.bundle import export_persona
    from persona.core.paths import Home

    tmp = carry.with_name(f".{carry.name}.new")
    tmp.unlink(missing_ok=True)
    result = export_persona(Home.resolve(home), tmp, passphrase=CARRY_PASSPHRASE)
    os.replace(tmp, carry)
    return result.size


def run_nights(corpus: str, nights: int, work: Path, model: str | None, out: Path,
               done: dict, carry: Path | None = None, log=print) -> None:
    """Up to ``nights`` more nights on the home in ``work`` (made on the first, or brought in
    from ``carry``), exported to ``carry`` after each."""
    base_perplexity(corpus, model, out, done)
    home = work / f"home-{corpus}"
    series = carry.name if carry else str(home)
    if carry and bring_in(carry, home):
        log(f"{corpus}: brought in {carry} as {home}")
    common = dict(RECORDS, corpus=corpus, model=model, max_len=MAX_LEN)
    for _ in range(nights):
        k = nights_done(home) + 1
        log(f"{corpus}: night {k} in {home}")
        night = job(dict(common, job="night", home=str(home)))
        ppl = None
        if night["adapter"]:
            ppl = job(dict(common, job="losses", sets=["heldout"],
                           adapter=night["adapter"]))["heldout_perplexity"]
        _append(out, done, {"kind": "night", "key": f"{series}#{k}", "series": series,
                            "home": str(home), "corpus": corpus, "model": model, "night": k,
                            "perplexity": ppl, "gate": night.get("gate"),
                            **{f: night[f] for f in ("seconds", "trained", "records", "steps",
                                                     "sigma", "run_epsilon", "promoted",
                                                     "reason", "max_record_epsilon",
                                                     "rss_mb", "optimizer_continued")}})
        if carry:
            log(f"{corpus}: night {k} carried in {carry} ({carry_out(home, carry) >> 10} KiB)")
        if not night["trained"]:
            log(f"{corpus}: every record is at its budget after {k - 1} nights")
            return


def _gate(gate: dict | None) -> str:
    """The gate's paired difference, candidate − current, in nats a token (± its standard
    error); nights before 2026-12-04 11:30 kept no gate numbers."""
    if not gate or gate.get("difference") is None:
        return ""
    return f" [{gate['difference']:+.4f} ± {gate['standard_error']:.4f}]"


def table(done: dict) -> str:
    bases = {e["corpus"]: e["perplexity"] for (kind, _), e in done.items() if kind == "base"
             and json.loads(e["key"]).get("max_len") == MAX_LEN
             and json.loads(e["key"]).get("records") == RECORDS}
    rows = []
    nights = sorted((e for e in done.values() if e.get("kind") == "night"),
                    key=lambda e: (e["corpus"], e.get("series", e["home"]), e["night"]))
    for e in nights:
        base = bases.get(e["corpus"])
        ppl = e["perplexity"]
        below = f"{1 - ppl / base:.1%}" if ppl and base else "—"
        series = e.get("series", Path(e["home"]).name)
        # Nights before 2026-12-04 have no "optimizer_continued": each started Adam afresh.
        went_on = "yes" if e.get("optimizer_continued") else "no"
        rows.append((e["corpus"], series, str(e["night"]), str(e["records"]), str(e["steps"]),
                     f"{e['sigma']:.2f}", f"{float(e['max_record_epsilon']):.2f}", went_on,
                     ("yes" if e["promoted"] else f"no ({e['reason'].split(';')[0].split(' (')[0]})")
                     + _gate(e.get("gate")),
                     f"{base:.1f}" if base else "—", f"{ppl:.1f}" if ppl else "—", below,
                     f"{e['seconds'] / 60:.1f}"))
    head = ("text", "series", "night", "records", "steps", "σ", "max ε spent",
            "Adam went on", "promoted", "base ppl",
            "persona ppl", "below base (≥ 25%)", "min")
    return format_grid(head, rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_dp_schedule",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", nargs="+", default=["shakespeare"])
    ap.add_argument("--nights", type=int, default=1, help="how many more nights to run")
    ap.add_argument("--work", type=Path, default=None,
                    help="folder that keeps the homes between calls (default: a new one)")
    ap.add_argument("--carry", type=Path, default=None,
                    help="persona bundle that carries the home between checkouts: imported "
                         "when the work folder has no home, rewritten after every night "
                         "(one corpus)")
    ap.add_argument("--model", default=None, help="catalog model (default: the default)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--plan", action="store_true",
                    help="print the nights the ledger allows 612 records, and stop")
    ap.add_argument("--table", action="store_true", help="print the nights in --out, and stop")
    args = ap.parse_args(argv)
    if args.plan:
        # ~10% of a home's records are its held-out slice: the runner trains the rest.
        nights = schedule_plan(int(RECORDS["n_train"] * 0.9))
        print(format_grid(("night", "records", "steps", "σ", "max ε after"),
                          [(str(n["night"]), str(n["records"]), str(n["steps"]),
                            f"{n['sigma']:.2f}", f"{n['max_epsilon']:.2f}") for n in nights]))
        return 0
    done = load(args.out)
    if not args.table:
        work = args.work or Path(tempfile.mkdtemp(prefix="persona-bench-schedule-"))
        work.mkdir(parents=True, exist_ok=True)
        if args.carry and len(args.corpus) > 1:
            ap.error("--carry carries one home: give one --corpus")
        carry = args.carry.resolve() if args.carry else None
        for corpus in args.corpus:
            run_nights(corpus, args.nights, work.resolve(), args.model, args.out, done,
                       carry, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(table(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
