"""Peak memory (max RSS) of `persona demo` in a fresh home, run as its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.table import Row, format_table

ROOT = Path(__file__).resolve().parents[1]


def run(quick: bool = False) -> list[Row]:
    home = tempfile.mkdtemp(prefix="persona-demo-")
    # The demo's fresh home converts nothing: model files and conversions are in the
    # per-user cache (PERSONA_CACHE, if set, is inherited), shared by every home.
    env = dict(os.environ)
    # A wrapper process whose only child is the demo, so that the children's peak RSS is
    # the demo's and not that of another benchmark's child run in this process before.
    wrapper = ("import resource, subprocess, sys\n"
               "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "persona.core.cli",
                          "demo", "--json", "--dir", home], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = int(out.stdout.strip().splitlines()[-1])  # KiB on Linux, bytes on macOS
    peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    return [
        Row("demo", "peak memory of `persona demo` (fresh home)", f"{peak_mb:.0f} MB",
            "<= 1500 MB", peak_mb <= 1500),
        Row("demo", "wall time of `persona demo` (fresh home, model already converted)",
            f"{wall:.1f} s"),
    ]


if __name__ == "__main__":
    print(format_table(run()))
