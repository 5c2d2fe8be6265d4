"""The vocabulary projection on target positions only vs on every position, side by side.

A token's NLL needs the logits of the position before it only; the prompt's and the padding's
logits are thrown away. With a vocabulary of ~150k (Qwen2.5) the projection is a large part of
a forward pass, and of the backward pass through it. ``target_nll_torch`` projects the target
positions only for the models it knows to be ``lm_head(decoder(x))``; this measures what that
saves in the nightly trainer's forward/backward passes (Opacus' per-example gradients, its
micro-batches) and in an evaluation pass, each variant in a process of its own (its peak
memory is its own), alternating, on the default model and the Python text's records:

    python -m benchmarks.bench_target_nll [--batches 3] [--reps 2] [--corpus pydocs]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from benchmarks.bench_train import job
from benchmarks.table import format_grid

VARIANTS = (("target positions", False), ("every position", True))


def measure(corpus: str, batches: int, reps: int, model: str | None = None,
            log=print) -> dict[str, list[dict]]:
    """Each variant's job answers, ``reps`` of them, the variants alternating."""
    spec = {"job": "head", "corpus": corpus, "n_train": 680, "n_outside": 0,
            "n_heldout": 96, "max_len": 128, "batch": 32, "batches": batches, "layers": 8,
            "rank": 8, "model": model}
    out: dict[str, list[dict]] = {name: [] for name, _ in VARIANTS}
    for rep in range(reps):
        for name, whole in VARIANTS:
            log(f"{name}, run {rep + 1}/{reps}")
            out[name].append(job(dict(spec, whole=whole)))
    return out


def table(out: dict[str, list[dict]], batches: int) -> str:
    body = []
    for name, runs in out.items():
        train = statistics.median(r["train_seconds"] for r in runs) / batches
        ev = statistics.median(r["eval_seconds"] for r in runs)
        body.append((name, f"{train:.1f}", f"{ev:.1f}",
                     f"{max(r['rss_mb'] for r in runs):.0f}",
                     f"{runs[0]['eval_nll']:.5f}"))
    return format_grid(("logits on", "train s / batch of 32", "eval s (96 records)",
                        "peak RSS MB", "held-out NLL / token"), body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_target_nll",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="pydocs")
    ap.add_argument("--batches", type=int, default=3, help="training batches of 32 records")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--model", default=None, help="catalog model (default: the default)")
    args = ap.parse_args(argv)
    out = measure(args.corpus, args.batches, args.reps, args.model,
                  log=lambda m: print(m, file=sys.stderr, flush=True))
    print(table(out, args.batches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
