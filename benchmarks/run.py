"""Run Persona's benchmarks and print one table.

    python -m benchmarks.run                 # everything (several minutes on 2 cores)
    python -m benchmarks.run --quick         # a smoke run of each, well under a minute each
    python -m benchmarks.run --only asr,memory
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
import traceback

from benchmarks.table import Row, format_table

BENCHES = ("asr", "asr_models", "voice_turn", "memory", "ingest", "grounded", "emotion", "llm",
           "llamacpp", "models",
           "demo_memory", "train", "dp_utility",
           "desktop", "desktop_memories", "desktop_training", "csprng", "redaction", "forget",
           "bundle")


def machine() -> str:
    import os

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHES)}")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")

    rows: list[Row] = []
    failed = False
    for name in names:
        t0 = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            rows.extend(module.run(quick=args.quick))
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            rows.append(Row(name, "ERROR", f"{type(exc).__name__}: {exc}"[:80]))
            failed = True
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print(f"Machine: {machine()}")
    print(format_table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
