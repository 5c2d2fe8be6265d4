"""Held-out perplexity of a schedule home's kept adapters and of their plain average (issue 10).

The probe behind iterate averaging (core/train/averaging.py): if a night's adapter sits at a
noise floor, its errors are mostly the DP noise, and the element-wise mean of several nights'
LoRA matrices (A and B each, as an average of iterates takes them) scores better than any one
of them. Nothing is trained; each adapter is scored by train_jobs' ``losses`` job on the
benchmark's 96 held-out records (~3 min each on 2 cores).

    python -m benchmarks.average_adapters HOME [--corpus pydocs] [--last N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_dp_schedule import MAX_LEN
from benchmarks.bench_dp_utility import RECORDS
from benchmarks.bench_train import job
from benchmarks.table import format_grid

PEFT_WEIGHTS = "adapter_model.safetensors"
PEFT_CONFIG = "adapter_config.json"


def mean_adapter(versions: list[Path], out: Path) -> Path:
    """The element-wise mean of the peft adapters of ``versions``, saved in ``out``."""
    from safetensors.numpy import load_file, save_file

    weights = [load_file(str(v / "peft" / PEFT_WEIGHTS)) for v in versions]
    mean = {name: sum(w[name] for w in weights) / len(weights) for name in weights[0]}
    out.mkdir(parents=True, exist_ok=True)
    save_file(mean, str(out / PEFT_WEIGHTS))
    (out / PEFT_CONFIG).write_text((versions[0] / "peft" / PEFT_CONFIG).read_text())
    return out


def perplexity(corpus: str, adapter: Path) -> float:
    spec = dict(RECORDS, corpus=corpus, model=None, max_len=MAX_LEN, job="losses",
                sets=["heldout"], adapter=str(adapter))
    return job(spec)["heldout_perplexity"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.average_adapters",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("home", type=Path, help="a bench_dp_schedule home")
    ap.add_argument("--corpus", default="pydocs")
    ap.add_argument("--last", type=int, default=3, help="average the last N kept versions")
    args = ap.parse_args(argv)
    versions = sorted(p for p in (args.home / "adapters" / "versions").iterdir()
                      if p.is_dir() and not p.name.startswith("."))[-args.last:]
    rows = [(v.name, f"{perplexity(args.corpus, v / 'peft'):.2f}") for v in versions]
    with tempfile.TemporaryDirectory(prefix="persona-bench-mean-") as tmp:
        mean = mean_adapter(versions, Path(tmp) / "mean")
        rows.append((f"mean of these {len(versions)}", f"{perplexity(args.corpus, mean):.2f}"))
    print(format_grid(("adapter", "held-out perplexity"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
