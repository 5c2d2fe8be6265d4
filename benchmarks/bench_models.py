"""The language models side by side, to choose the default by measurement (issue 9): the most
accurate model on the grounded questions that meets the latency, memory and training-time
targets on this machine. One column per catalog model, all measured in the same run.

Each model's work runs in child processes of its own (its peak RSS is its own), reusing the
other benchmarks:

- grounded: every question of ``bench_grounded`` through the real pipeline (accuracy on the
  answerable ones, the share of unanswerable ones answered "I don't know");
- app: ``bench_voice_turn`` with the model (the pipeline built as the app builds it: Whisper,
  embedder, the language model on llama.cpp, TTS; six spoken questions plain and live, and a
  cold ``persona ask``), whose process's max RSS is the app's peak RSS;
- llama.cpp: ``bench_llamacpp``'s child (greedy decode tokens/s);
- train: ``train_jobs``' DP training job on torch with the product's defaults (training's
  peak RSS and tokens/s, nothing else in the process);
- nightly: ``train_jobs``' nightly job (``persona retrain`` on torch with the product's
  defaults over ~N tokens of new memories): its wall time, DP tokens/s and peak RSS. With
  N < 50k the 50k time is extrapolated linearly and labelled so.

    python -m benchmarks.bench_models                                  # every installed model
    python -m benchmarks.bench_models --models smollm2-135m,qwen2.5-coder-0.5b \\
        --nightly-tokens 4000 --save models.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.table import Row, format_grid

ROOT = Path(__file__).resolve().parents[1]
NIGHTLY_TOKENS = 50_000
JOB_NAMES = ("grounded", "app", "llamacpp", "train", "nightly")
TRAIN_RECORDS, TRAIN_STEPS = 64, 3  # the DP training job: enough for a steady tokens/s
# Targets with the default model (issue 9).
FIRST_AUDIO_S, APP_RSS_MB, TRAIN_RSS_MB, NIGHTLY_MIN = 1.0, 2048, 4096, 30.0


def _max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes vs KiB


# ------------------------------------------------------------------ jobs (child processes)
def grounded_job(model: str, quick: bool) -> dict:
    from benchmarks.bench_grounded import (
        TARGET_ANSWERABLE,
        TARGET_DONT_KNOW,
        evaluate,
        load_questions,
        share,
        use_model,
    )
    from benchmarks.common import sample_pipeline
    from benchmarks.grounding import ANSWERABLE

    pipe = sample_pipeline()
    use_model(pipe, model)
    pipe.llm  # noqa: B018 - loaded before the timed replies
    outcomes = evaluate(pipe, load_questions(quick),
                        progress=lambda o: print(f"  [{model} {o.kind[:5]} "
                                                 f"{'ok' if o.correct else '--'}] {o.q}",
                                                 file=sys.stderr, flush=True))
    answerable = [o for o in outcomes if o.kind in ANSWERABLE]
    unanswerable = [o for o in outcomes if o.kind == "unanswerable"]
    return {"answerable": sum(o.correct for o in answerable) / max(len(answerable), 1),
            "answerable_text": share(outcomes, ANSWERABLE),
            "dont_know": sum(o.correct for o in unanswerable) / max(len(unanswerable), 1),
            "dont_know_text": share(outcomes, ("unanswerable",)),
            # The replies as the model wrote them, before the grounding gate (if it is on)
            "gate_off_text": [share(outcomes, ANSWERABLE, "correct_gate_off"),
                              share(outcomes, ("unanswerable",), "correct_gate_off")],
            "gate": bool(getattr(pipe.settings, "grounding_gate", False)),
            "targets": [TARGET_ANSWERABLE, TARGET_DONT_KNOW]}


def app_job(model: str, quick: bool) -> dict:
    from benchmarks import bench_voice_turn

    rows = bench_voice_turn.run(quick=quick, model=model)

    def find(start: str) -> str:
        return next(r.value for r in rows if r.metric.startswith(start))

    return {"first_token": find("live: end of speech -> first token"),
            "first_audio": find("live: end of speech -> first audio"),
            # bench_voice_turn times a cold ask with and without the saved prefix state: the
            # app's case is with it (the home keeps it after the first question).
            "cold_ask_first_word": find("cold `persona ask`, new process, persona prefix "
                                        "state saved in the home: to the first word"),
            "cold_ask": find("cold `persona ask`, new process, persona prefix state saved in "
                             "the home: to the whole answer"),
            "clips": 2 if quick else len(bench_voice_turn.QUESTIONS),
            "rss_mb": _max_rss_mb()}


JOBS: dict[str, Callable[[str, bool], dict]] = {"grounded": grounded_job, "app": app_job}


def _python(args: list[str]) -> dict:
    """Run ``python -m ...args`` from the checkout; its last stdout line, parsed as JSON."""
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, text=True,
                          env=dict(os.environ, TQDM_DISABLE="1"), stdout=subprocess.PIPE)
    if done.returncode != 0:  # its stderr went to ours, with the traceback
        raise RuntimeError(f"`python -m {' '.join(args[:3])}` failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(model: str, *, quick: bool, nightly_tokens: int,
            jobs: tuple[str, ...] = JOB_NAMES) -> dict:
    """Every job of ``jobs`` for ``model``, each in its own process; a failed job is kept as
    its error so that the other models' columns still come out."""
    from benchmarks import bench_llamacpp
    from benchmarks.bench_train import job as train_job

    out: dict = {}
    for name in jobs:
        print(f"[models] {model}: {name} ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]  # other work on the machine slows every timing
        try:
            if name == "llamacpp":
                out[name] = bench_llamacpp._child(model, 8 if quick else 48)
            elif name == "train":
                out[name] = train_job(dp_train_spec(model, quick))
            elif name == "nightly":
                out[name] = train_job({"job": "nightly", "tokens": nightly_tokens,
                                       "model": model})
            else:
                extra = ["--quick"] if quick else []
                out[name] = _python(["benchmarks.bench_models", "--child", name,
                                     "--models", model, *extra])
        except Exception as exc:  # noqa: BLE001 - reported in the table instead
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        out[name]["loadavg"] = [load, os.getloadavg()[0]]
    return out


def dp_train_spec(model: str, quick: bool) -> dict:
    """A DP-SGD run on torch with the product's defaults for ``model`` (TrainOptions from the
    default settings and the model's training hints: Poisson batch, record length, LoRA
    layers, learning rate), on tinyshakespeare speeches
    as bench_train uses: training alone, so its peak RSS and tokens/s are training's."""
    import tempfile

    from benchmarks.train_jobs import settings_for
    from persona.core.train.runner import TrainOptions

    opts = TrainOptions.from_settings(settings_for(model))  # with the model's training hints
    n = 16 if quick else TRAIN_RECORDS
    return {"job": "train", "mode": "torch", "model": model, "n_train": n, "n_outside": 1,
            "n_heldout": 1, "max_len": opts.max_seq_len, "q": min(1.0, opts.batch_size / n),
            "steps": 1 if quick else TRAIN_STEPS, "sigma": 1.0, "delta": 1e-5,
            "lr": opts.learning_rate, "layers": opts.lora_layers,
            "out": tempfile.mkdtemp(prefix="persona-bench-models-train-")}


# ------------------------------------------------------------------------------ the table
def _p50(cell: str) -> float:
    return float(cell.split()[0])


def nightly_minutes(n: dict) -> tuple[float, float, bool]:
    """The nightly job's minutes for 50k new tokens, (low, high, extrapolated).

    Measured when the run had ~50k tokens. Otherwise the training part is scaled by 50k/N
    (one epoch: trained tokens grow linearly with the new tokens) at the run's own training
    tokens/s; the rest (model loads, held-out evaluation, promotion) is added as measured
    (low) or also scaled by 50k/N (high: the held-out slice grows with N, the loads don't).
    """
    scale = NIGHTLY_TOKENS / n["tokens"]
    if scale <= 1.05:
        return n["seconds"] / 60, n["seconds"] / 60, False
    rest = n["seconds"] - n["train_seconds"]
    train = n["train_seconds"] * scale
    return (train + rest) / 60, (train + rest * scale) / 60, True


def metrics(r: dict) -> list[tuple[str, str, str, bool | None]]:
    """(metric, target, cell, met) for one model's results; "-" where a job is missing."""
    rows: list[tuple[str, str, str, bool | None]] = []

    def add(job: str, metric: str, target: str, cell: Callable[[dict], tuple[str, bool | None]]):
        data = r.get(job)
        if data is None:
            rows.append((metric, target, "-", None))
        elif "error" in data:
            rows.append((metric, target, "ERROR " + data["error"][:60], False))
        else:
            rows.append((metric, target, *cell(data)))

    add("grounded", "grounded: answerable questions correct", ">= 90%",
        lambda g: (g["answerable_text"], g["answerable"] >= g["targets"][0]))
    add("grounded", "grounded: unanswerable ones answered 'I don't know'", ">= 80%",
        lambda g: (g["dont_know_text"], g["dont_know"] >= g["targets"][1]))
    add("grounded", "grounded, grounding gate off: answerable correct / unanswerable "
        "'I don't know'", "", lambda g: (" / ".join(g["gate_off_text"]) if "gate_off_text" in g
                                          else "-", None))
    add("app", "voice turn (live): end of speech -> first token, p50 (p95)", "",
        lambda a: (a["first_token"], None))
    add("app", "voice turn (live): end of speech -> first audio, p50 (p95)",
        f"<= {FIRST_AUDIO_S} s", lambda a: (a["first_audio"], _p50(a["first_audio"])
                                            <= FIRST_AUDIO_S))
    add("app", "cold `persona ask` in a new process, p50: first word / whole answer",
        "<= 5 s", lambda a: (f"{a.get('cold_ask_first_word', '-')} / {a.get('cold_ask', '-')}",
                             _p50(a["cold_ask"]) <= 5.0 if "cold_ask" in a else None))
    add("llamacpp", "llama.cpp greedy decode tokens/s (~500-token prompt)", "",
        lambda c: (f"{c['tps']:.1f}", None))
    add("app", "peak RSS of the app: the Pipeline as the app builds it (Whisper, embedder, "
        "LLM on llama.cpp, TTS) over the voice turns", f"<= {APP_RSS_MB} MB",
        lambda a: (f"{a['rss_mb']:.0f} MB", a["rss_mb"] <= APP_RSS_MB))
    add("train", "peak RSS of DP training alone (torch float32, the product's defaults)",
        f"<= {TRAIN_RSS_MB} MB", lambda t: (f"{t['rss_mb']:.0f} MB", t["rss_mb"] <= TRAIN_RSS_MB))
    add("train", "DP training tokens/s (torch, the product's defaults)", "",
        lambda t: (f"{t['tokens'] / t['seconds']:.1f} ({t['tokens']} tokens, {t['steps']} "
                   "steps)", None))
    add("train", "DP training tokens per CPU-second (the job's, load included; little "
        "changed by other work)", "", lambda t: (f"{t['tokens'] / t['cpu_seconds']:.1f}"
                                                 if "cpu_seconds" in t else "-", None))
    add("nightly", "peak RSS of the nightly job (its ingest's embedder included)", "",
        lambda n: (f"{n['rss_mb']:.0f} MB", None))
    add("nightly", "DP training tokens/s within the nightly job", "",
        lambda n: (f"{n['trained_tokens'] / n['train_seconds']:.1f}", None))

    def nightly_cell(n: dict) -> tuple[str, bool]:
        low, high, extrapolated = nightly_minutes(n)
        if not extrapolated:
            return f"{high:.1f} min (training {n['train_seconds'] / 60:.1f})", high <= NIGHTLY_MIN
        return (f"EXTRAPOLATED from {n['tokens']} tokens ({n['seconds'] / 60:.1f} min): "
                f"{low:.0f}-{high:.0f} min", high <= NIGHTLY_MIN)

    add("nightly", "nightly retrain over 50k new tokens, wall time", f"<= {NIGHTLY_MIN:.0f} min",
        nightly_cell)
    return rows


def recommend(results: dict[str, dict]) -> str:
    """The most accurate model meeting every target but the grounded ones (those say how
    good it is, the others whether it can run here), as the issue defines the default."""
    fit = []
    for model, r in results.items():
        checks = [met for metric, target, _c, met in metrics(r)
                  if target and not metric.startswith("grounded")]
        if all(met is True for met in checks) and "answerable" in r.get("grounded", {}):
            fit.append((r["grounded"]["answerable"], r["grounded"]["dont_know"], model))
    if not fit:
        return "no model meets every latency, memory and training-time target in this run"
    return f"the most accurate model meeting every other target: {max(fit)[2]}"


def format_wide(results: dict[str, dict]) -> str:
    models = list(results)
    per_model = {m: metrics(results[m]) for m in models}
    head = ["metric", "target", *models]
    body = []
    for i, (metric, target, _c, _m) in enumerate(per_model[models[0]]):
        cells = []
        for m in models:
            _metric, _t, cell, met = per_model[m][i]
            cells.append(cell + ("" if met is None else (" ✓" if met else " ✗")))
        body.append([metric, target, *cells])
    return format_grid(head, body)


def rows(results: dict[str, dict]) -> list[Row]:
    """The same table as benchmark rows (run.py): the models side by side in each value;
    "met" is the current default's verdict (the targets hold for the default)."""
    from persona.core.models.catalog import DEFAULT_LLM

    per_model = {m: metrics(r) for m, r in results.items()}
    first = next(iter(per_model.values()))
    out = []
    for i, (metric, target, _c, _m) in enumerate(first):
        value = " | ".join(f"{m}: {per_model[m][i][2]}" for m in per_model)
        met = per_model[DEFAULT_LLM][i][3] if DEFAULT_LLM in per_model else None
        out.append(Row("models", metric, value, target, met))
    out.append(Row("models", "recommended default", recommend(results)))
    return out


def collect(quick: bool = False, models: list[str] | None = None,
            nightly_tokens: int = NIGHTLY_TOKENS, jobs: tuple[str, ...] = JOB_NAMES,
            save: Path | None = None) -> dict[str, dict]:
    """Every model's raw results (quick: the default model only, 1,500 nightly tokens)."""
    from benchmarks.bench_llamacpp import installed_llms
    from persona.core.models.catalog import DEFAULT_LLM

    names = models or ([DEFAULT_LLM] if quick else installed_llms())
    tokens = min(nightly_tokens, 1_500) if quick else nightly_tokens
    results = {}
    for m in names:
        results[m] = measure(m, quick=quick, nightly_tokens=tokens, jobs=jobs)
        if save:  # after each model: a long run stopped half-way keeps what it measured
            save.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


def run(quick: bool = False) -> list[Row]:
    return rows(collect(quick))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_models", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="", help="comma-separated catalog names (default: "
                    "every installed language model)")
    ap.add_argument("--nightly-tokens", type=int, default=NIGHTLY_TOKENS, metavar="N",
                    help="new tokens for the nightly job (default 50000; fewer are "
                         "extrapolated to 50k and labelled so)")
    ap.add_argument("--jobs", default=",".join(JOB_NAMES),
                    help=f"comma-separated subset of {','.join(JOB_NAMES)}")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    ap.add_argument("--save", type=Path, help="write the raw results to this JSON file")
    ap.add_argument("--load", type=Path, nargs="+", help="print the table of saved results "
                    "(later files add or replace models and jobs) instead of measuring")
    ap.add_argument("--child", choices=sorted(JOBS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.child:
        print(json.dumps(JOBS[args.child](models[0], args.quick)))
        return
    if args.load:
        results: dict[str, dict] = {}
        for path in args.load:
            for model, jobs in json.loads(path.read_text(encoding="utf-8")).items():
                results.setdefault(model, {}).update(jobs)
    else:
        jobs = tuple(j for j in args.jobs.split(",") if j)
        unknown = sorted(set(jobs) - set(JOB_NAMES))
        if unknown:
            ap.error(f"unknown job(s) {unknown}; choose from {', '.join(JOB_NAMES)}")
        results = collect(args.quick, models or None, args.nightly_tokens, jobs, args.save)
    print(format_wide(results))
    print(recommend(results))
    loads = [x for r in results.values() for job in r.values() for x in job.get("loadavg", [])]
    if loads:
        print(f"1-minute load average at the jobs' starts and ends: {min(loads):.1f} to "
              f"{max(loads):.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
