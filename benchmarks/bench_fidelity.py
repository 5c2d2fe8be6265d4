"""Issue 10's fidelity numbers after a DP training run: how much the persona writes like the
person (style similarity, persona vs base model), what it knows of their memories (memory
question accuracy) and what the run gives away (the membership audit's AUC).

The person: the sample persona's diary (assets/sample_persona, the source of the memory
questions) plus ``speeches`` speeches of the benchmark corpus (tinyshakespeare, a style far
from the base model's), in a fresh home with the product's defaults (the default language
model; training on torch). One DP run at ε = 8, then the fidelity report of `persona eval`
(core/evaluate/fidelity.py) with ``samples`` samples and ``questions`` questions.

    python -m benchmarks.bench_fidelity [--quick] [--reuse HOME] [--samples N]

``--reuse HOME``: no training; the fidelity report of a home an earlier run left (its path is
printed), e.g. after a change to the evaluation.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks.table import Row, format_table

FULL = {"speeches": 300, "epochs": 2.0, "samples": 10, "questions": 10}
QUICK = {"speeches": 40, "epochs": 1.0, "samples": 2, "questions": 3}
EPSILON = 8.0


def make_home(speeches: int):
    from benchmarks.train_data import head_speeches
    from persona.core.cli.demo import load_sample_persona
    from persona.core.memory.schema import Memory
    from persona.core.pipeline import Pipeline
    from tests.sample_home import ensure_heldout

    pipe = Pipeline(Path(tempfile.mkdtemp(prefix="persona-bench-fidelity-")) / "home")
    load_sample_persona(pipe)
    pipe.store.add([Memory(text=t, source="import") for t in head_speeches()[:speeches]])
    ensure_heldout(pipe)
    return pipe


def run(quick: bool = False, reuse: str | None = None, samples: int | None = None
        ) -> list[Row]:
    from persona.core.evaluate.fidelity import FidelityOptions, run_fidelity
    from persona.core.pipeline import Pipeline
    from persona.core.train.runner import TrainOptions, run_training

    sizes = dict(QUICK if quick else FULL)
    sizes["samples"] = samples or sizes["samples"]
    rows: list[Row] = []
    if reuse:
        pipe = Pipeline(Path(reuse))
    else:
        pipe = make_home(sizes["speeches"])
        print(f"home: {pipe.home.root}")
        options = TrainOptions.from_settings(pipe.settings, epsilon=EPSILON,
                                             epochs=sizes["epochs"], backend="torch")
        t0 = time.perf_counter()
        outcome = run_training(pipe.home, pipe.settings, options, log=print)
        rows = training_rows(outcome, time.perf_counter() - t0)
    t0 = time.perf_counter()
    report = run_fidelity(pipe.home, pipe.settings,
                          FidelityOptions(samples=sizes["samples"], questions=sizes["questions"]),
                          pipeline=pipe)
    eval_s = time.perf_counter() - t0
    right = sum(q["correct"] for q in report.questions)
    rows += [
        Row("fidelity", "style similarity persona vs person",
            _num(report.style_similarity_persona), "> base",
            None if report.style_similarity_persona is None else
            report.style_similarity_persona > (report.style_similarity_base or -1.0)),
        Row("fidelity", "style similarity base vs person", _num(report.style_similarity_base)),
        Row("fidelity", "style similarity persona speaking as you (chat)",
            _num(report.style_similarity_as_me)),
        Row("fidelity", "samples declined (persona / base / as you), left out",
            f"{report.refused.get('persona', 0)} / {report.refused.get('base', 0)} / "
            f"{report.refused.get('as_me', 0)} of "
            f"{len(report.samples)}"),
        Row("fidelity", f"memory QA accuracy ({len(report.questions)} questions)",
            f"{right}/{len(report.questions)}"
            + ("" if report.memory_qa_accuracy is None else
               f" ({report.memory_qa_accuracy:.0%})")),
        Row("fidelity", f"`persona eval` fidelity part ({sizes['samples']} samples × 3)",
            f"{eval_s:.0f} s"),
    ]
    for s in report.samples[:2]:
        print(f"\nstart: {s['start']}\npersona: {s['persona']}\nbase: {s['base']}\n"
              f"as you: {s['as_me']}")
    for q in report.questions:
        print(f"{'✓' if q['correct'] else '✗'} {q['question']} → {q['reply'][:100]!r}")
    return rows


def training_rows(outcome, seconds: float) -> list[Row]:
    ev, audit, plan = outcome.evaluation, outcome.membership, outcome.plan
    return [
        Row("fidelity", f"DP run: {len(plan.eligible_ids)} records, ε {plan.run_epsilon:.2f}, "
            f"{plan.steps} steps", f"{seconds:.0f} s, "
            f"{'promoted' if outcome.promoted else 'rejected'}"),
        Row("fidelity", "held-out perplexity base → persona",
            "–" if ev is None or ev.candidate_perplexity is None else
            f"{ev.base_perplexity:.1f} → {ev.candidate_perplexity:.1f}"),
        Row("fidelity", "membership audit AUC (loss attack)",
            "–" if audit is None else f"{audit.membership_auc:.3f} "
            f"({audit.members} vs {audit.nonmembers})", "≈ 0.5"),
    ]


def _num(x) -> str:
    return "–" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    def option(name: str) -> str | None:
        return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None

    n = option("--samples")
    print(format_table(run(quick="--quick" in sys.argv, reuse=option("--reuse"),
                           samples=int(n) if n else None)))
