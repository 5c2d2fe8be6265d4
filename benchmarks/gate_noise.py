"""How far apart a schedule home's kept adapters are on its own held-out slice, against the
noise of that slice: what the promotion gate (core/train/gate.py) decides on.

Each kept adapter (oldest first) is scored record by record on the home's held-out records,
as the runner scores a candidate; each consecutive pair gives the paired difference, newer
minus older, in nats a token, with its standard error and z. Nothing is trained; ~1 min an
adapter on 2 cores for a slice of ~60 records.

    python -m benchmarks.gate_noise HOME [--max-len 128]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from benchmarks.table import format_grid


def kept_versions(home: Path) -> list[Path]:
    """The home's kept adapter versions, oldest first (their names begin with the time)."""
    return sorted(p for p in (Path(home) / "adapters" / "versions").iterdir() if p.is_dir())


def measure(home: Path, max_len: int, log=print) -> list[tuple[str, list]]:
    """(version, per-record scores) of each kept adapter on the home's held-out slice."""
    from persona.core.evaluate.record_scores import record_scores
    from persona.core.llm.models import ensure_model_folder
    from persona.core.pipeline import Pipeline
    from persona.core.train.runner import heldout_order, load_dataset

    pipe = Pipeline(home)
    records = heldout_order(load_dataset(pipe.home, pipe.settings).heldout)
    folder = ensure_model_folder(pipe.settings, pipe.home)
    out = []
    for version in kept_versions(home):
        log(f"scoring {version.name} on {len(records)} held-out records")
        out.append((version.name,
                    record_scores("torch", folder, version / "peft", [records], max_len)[0]))
    return out


def table(scored: list[tuple[str, list]]) -> str:
    from persona.core.evaluate.record_scores import pooled
    from persona.core.train.gate import paired_difference

    rows = []
    for i, (name, scores) in enumerate(scored):
        nll, tokens = pooled(scores)
        cells = [name, str(len(scores)), str(tokens), f"{math.exp(nll):.3f}", "", "", ""]
        if i:
            d = paired_difference(scored[i - 1][1], scores)
            cells[4:] = [f"{d.nll:+.5f}", f"{d.standard_error:.5f}",
                         f"{d.nll / d.standard_error:+.2f}" if d.standard_error else "—"]
        rows.append(tuple(cells))
    return format_grid(("adapter", "records", "tokens", "perplexity",
                        "minus the one before (nats/token)", "standard error", "z"), rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gate_noise", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("home", type=Path)
    ap.add_argument("--max-len", type=int, default=128, help="tokens per example (the run's)")
    args = ap.parse_args(argv)
    print(table(measure(args.home, args.max_len, log=lambda m: print(m, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
