"""How much of the non-private gain DP-SGD keeps, setting by setting (issue 10).

For each training setting (expected batch, epochs, learning rate, clipping norm C, LoRA
blocks and rank, tokens per example) and each text (``shakespeare``, ``pydocs``: see
benchmarks/train_data.py), two runs on the same records and steps: DP-SGD at ε = 8 (σ
calibrated for the setting's q and steps at the ledger's δ) and the same run without noise
(σ = 0, the same code path). Held-out perplexity of the base model and of each adapter gives
the reductions and DP's share of the non-private one:

    kept = (base − DP) / (base − σ0)          target ≥ 85% at ε = 8

A setting can also be judged against the best non-private reduction of any setting (a DP
setting that keeps most of a poor non-private run is no win): the ``vs best σ0`` column.
That share is a lower bound on the setting's own kept share, so ``--dp-only`` runs only the
DP half of new settings (half the time) when the question is whether one reaches 85%.

Every job runs in its own process (``benchmarks.train_jobs``). Results are appended to a JSON
lines file as they come (``--out``; a run already there is not repeated), so a long sweep
survives an interruption and can be extended later:

    python -m benchmarks.bench_dp_utility --corpus shakespeare --only default,big-batch
    python -m benchmarks.bench_dp_utility --table          # the table of what is in --out
    python -m benchmarks.bench_dp_utility --norms default  # per-example gradient norms
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_train import job
from benchmarks.table import Row, format_grid

ROOT = Path(__file__).resolve().parents[1]
EPSILON = 8.0
OUT = ROOT / "benchmarks" / "results" / "dp_utility.jsonl"
RECORDS = {"n_train": 680, "n_outside": 0, "n_heldout": 96}  # the 680 records
QUICK_RECORDS = {"n_train": 24, "n_outside": 0, "n_heldout": 8}

# The settings compared. "default" is what the nightly run does today with the default
# model (core/train/runner.py TrainOptions and the model's TrainingHints). ``average``: a DP
# run publishes the average of its iterates (core/train/averaging.py); runs measured before
# that existed have no ``average`` in their setting and count as ``average=0``.
SETTINGS: dict[str, dict] = {
    "default": {"batch": 32, "epochs": 1, "lr": 5e-3, "clip": 1.0, "layers": 8, "rank": 8,
                "max_len": 128, "average": True},
}


def setting(name: str) -> dict:
    """A named setting, or ``key=value,...`` over the default (e.g. ``batch=128,epochs=2``)."""
    if name in SETTINGS:
        return dict(SETTINGS[name])
    spec = dict(SETTINGS["default"])
    for part in name.split(","):
        key, _, value = part.partition("=")
        if key not in spec or not value:
            raise SystemExit(f"unknown setting {name!r}: name one of {', '.join(SETTINGS)} "
                             f"or give key=value pairs over {', '.join(SETTINGS['default'])}")
        spec[key] = type(spec[key])(float(value)) if key != "layers" else int(value)
    return spec


def keyed(s: dict, mode: str) -> dict:
    """Setting ``s`` as a run of ``mode`` is stored and paired: without ``average`` where it
    changes nothing, i.e. for σ = 0 (which publishes its last iterate either way) and when it
    is off, so the runs measured before averaging keep their keys."""
    return {k: v for k, v in s.items()
            if k != "average" or (mode == "dp" and s.get("average", False))}


def plan(s: dict, records: dict) -> dict:
    """The run's q, steps, δ and the σ of ε = 8 for setting ``s``."""
    from persona.privacy.rdp import calibrate_noise, ledger_delta

    n = records["n_train"]
    q = min(1.0, s["batch"] / n)
    steps = max(1, math.ceil(s["epochs"] / q))
    delta = ledger_delta(n)  # the product's: a ledger counts at least 10,000 records
    sigma = calibrate_noise(target_epsilon=EPSILON, delta=delta, sample_rate=q, steps=steps)
    return {"q": q, "steps": steps, "delta": delta, "sigma": sigma}


def measure(corpus: str, name: str, records: dict, model: str | None, out: Path,
            done: dict, log=print, modes: tuple[str, ...] = ("dp", "sigma0")) -> None:
    """Base, DP and σ = 0 held-out perplexities of one setting, appended to ``out``
    (``modes``: which of the two runs)."""
    s = setting(name)
    p = plan(s, records)
    common = dict(records, corpus=corpus, max_len=s["max_len"], model=model)
    base_key = json.dumps({"corpus": corpus, "model": model, "records": records,
                           "max_len": s["max_len"]}, sort_keys=True)
    if ("base", base_key) not in done:
        t0 = time.perf_counter()
        losses = job(dict(common, job="losses", sets=["heldout"]))
        _append(out, done, {"kind": "base", "key": base_key, "corpus": corpus,
                            "perplexity": losses["heldout_perplexity"],
                            "seconds": time.perf_counter() - t0})
    scratch = Path(tempfile.mkdtemp(prefix="persona-bench-dp-"))
    for mode, sigma in (("dp", p["sigma"]), ("sigma0", 0.0)):
        if mode not in modes:
            continue
        key = json.dumps({"corpus": corpus, "model": model, "records": records,
                          "setting": keyed(s, mode), "mode": mode}, sort_keys=True)
        if ("run", key) in done:
            continue
        log(f"{corpus} {name} {mode}: {p['steps']} steps, q {p['q']:.3g}, σ {sigma:.3g}")
        adapter = scratch / mode
        trained = job(dict(common, job="train", mode="torch", q=p["q"], steps=p["steps"],
                           sigma=sigma, delta=p["delta"], lr=s["lr"], clip=s["clip"],
                           layers=s["layers"], rank=s["rank"], average=s["average"],
                           out=str(adapter)))
        losses = job(dict(common, job="losses", sets=["heldout"], adapter=str(adapter)))
        _append(out, done, {"kind": "run", "key": key, "corpus": corpus, "name": name,
                            "setting": keyed(s, mode), "mode": mode, "plan": dict(p, sigma=sigma),
                            "base_key": base_key, "perplexity": losses["heldout_perplexity"],
                            "train_seconds": trained["seconds"], "tokens": trained["tokens"],
                            "epsilon": trained["epsilon"], "rss_mb": trained["rss_mb"],
                            "last_losses": trained["last_losses"]})


def _append(out: Path, done: dict, entry: dict) -> None:
    from benchmarks.run import machine

    entry.update(machine=machine(), when=time.strftime("%Y-%m-%d %H:%M"))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    done[(entry["kind"], entry["key"])] = entry


def load(out: Path) -> dict:
    done: dict = {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                done[(entry["kind"], entry["key"])] = entry
    return done


def table(done: dict) -> str:
    """One line per setting and text that has its DP run. A setting run without its σ = 0
    twin (``--dp-only``) is judged against the best σ = 0 reduction of its text only: a
    lower bound on its own kept share."""
    runs = _runs(done)
    best: dict[str, float] = {}
    for (corpus, _), pair in runs.items():
        if "sigma0" in pair:
            base = done[("base", pair["sigma0"]["base_key"])]["perplexity"]
            gain = base - pair["sigma0"]["perplexity"]
            best[corpus] = max(best.get(corpus, 0.0), gain)
    body = []
    for (corpus, _), pair in sorted(runs.items()):
        dp, s0 = pair["dp"], pair.get("sigma0")
        base = done[("base", dp["base_key"])]["perplexity"]
        gain = base - s0["perplexity"] if s0 else math.nan
        kept = ("no σ0 run" if s0 is None else
                f"{(base - dp['perplexity']) / gain:.0%}" if gain > 0 else "σ0 made it worse")
        vs_best = (f"{(base - dp['perplexity']) / best[corpus]:.0%}"
                   if best.get(corpus, 0) > 0 else "")
        s = dp["setting"]
        s0_ppl = f"{s0['perplexity']:.1f}" if s0 else ""
        s0_red = f"{1 - s0['perplexity'] / base:.1%}" if s0 else "—"
        body.append((corpus, _describe(s), f"{dp['plan']['steps']}",
                     f"{dp['plan']['sigma']:.2f}", f"{base:.1f}", s0_ppl,
                     f"{dp['perplexity']:.1f}",
                     f"{1 - dp['perplexity'] / base:.1%} / {s0_red}",
                     kept, vs_best, f"{dp['train_seconds'] / 60:.1f}"))
    head = ("text", "setting", "steps", "σ", "base ppl", "σ0 ppl", "DP ppl",
            "reduction DP / σ0", "kept (≥ 85%)", "vs best σ0", "DP min")
    return format_grid(head, body)


def _runs(done: dict) -> dict[tuple[str, str], dict]:
    """(text, setting) -> {"dp": run[, "sigma0": run]}, for the settings with a DP run; the
    σ = 0 twin of an averaged DP run is the setting's σ = 0 run."""
    dp: dict[tuple[str, str], dict] = {}
    sigma0: dict[tuple[str, str], dict] = {}
    for (kind, _), e in done.items():
        if kind == "run":
            s = e["setting"]
            (dp if e["mode"] == "dp" else sigma0)[
                (e["corpus"], json.dumps(s, sort_keys=True))] = e
    runs = {}
    for (corpus, s), e in dp.items():
        twin = sigma0.get((corpus, json.dumps(keyed(json.loads(s), "sigma0"), sort_keys=True)))
        runs[(corpus, s)] = {"dp": e, **({"sigma0": twin} if twin else {})}
    return runs


def _pairs(done: dict) -> dict[tuple[str, str], dict]:
    """The settings of ``_runs`` that have both runs."""
    return {k: v for k, v in _runs(done).items() if "sigma0" in v}


def _describe(s: dict) -> str:
    return (f"B {s['batch']}, {s['epochs']:g} ep, lr {s['lr']:g}, C {s['clip']:g}, "
            f"{s['layers']} blocks r{s['rank']}, {s['max_len']} tok, "
            f"{'averaged' if s.get('average') else 'last'} iterate")


def run(quick: bool = False) -> list[Row]:
    """For ``benchmarks.run``: the default setting on Shakespeare (quick: a few records)."""
    out = Path(tempfile.mkdtemp(prefix="persona-bench-dp-")) / "dp.jsonl"
    records = QUICK_RECORDS if quick else RECORDS
    done = load(out)
    measure("shakespeare", "default", records, None, out, done,
            log=lambda m: print(m, file=sys.stderr))
    rows = []
    for (_, pair) in _pairs(done).items():
        base = done[("base", pair["dp"]["base_key"])]["perplexity"]
        gain = base - pair["sigma0"]["perplexity"]
        kept = (base - pair["dp"]["perplexity"]) / gain if gain > 0 else 0.0
        rows.append(Row("dp_utility", f"DP ε=8 keeps of σ=0's reduction "
                        f"({_describe(pair['dp']['setting'])})", f"{kept:.0%}", "≥ 85%",
                        kept >= 0.85))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_dp_utility",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", nargs="+", default=["shakespeare", "pydocs"])
    ap.add_argument("--only", nargs="+", default=list(SETTINGS),
                    help="setting names or key=value,... over the default")
    ap.add_argument("--model", default=None, help="catalog model (default: the default)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--quick", action="store_true", help="a few records, to try the harness")
    ap.add_argument("--table", action="store_true", help="print the table of --out and stop")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--dp-only", action="store_true",
                      help="skip the σ = 0 runs (judged against the best σ = 0 of the text)")
    only.add_argument("--sigma0-only", action="store_true",
                      help="only the σ = 0 runs (e.g. beside a --dp-only process of the "
                           "same settings, one core each)")
    ap.add_argument("--norms", metavar="SETTING", help="per-example gradient norms at the "
                    "start of training under SETTING (to choose C), and stop")
    args = ap.parse_args(argv)
    done = load(args.out)
    if args.table:
        print(table(done))
        return 0
    records = QUICK_RECORDS if args.quick else RECORDS
    if args.norms:
        for corpus in args.corpus:
            s = setting(args.norms)
            print(corpus, json.dumps(job(dict(records, corpus=corpus, job="norms",
                                              max_len=s["max_len"], layers=s["layers"],
                                              rank=s["rank"], model=args.model, n=64))))
        return 0
    for corpus in args.corpus:
        for name in args.only:
            measure(corpus, name, records, args.model, args.out, done,
                    log=lambda m: print(m, file=sys.stderr, flush=True),
                    modes=("dp",) if args.dp_only else ("sigma0",) if args.sigma0_only
                    else ("dp", "sigma0"))
    print(table(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
