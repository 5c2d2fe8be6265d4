"""Peak memory (max RSS) of `persona demo` in a fresh home, run as its own process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import CACHE
from benchmarks.table import Row, format_table

ROOT = Path(__file__).resolve().parents[1]


def run(quick: bool = False) -> list[Row]:
    home = tempfile.mkdtemp(prefix="persona-demo-")
    env = {**os.environ, "PERSONA_MODEL_CACHE": os.environ.get(
        "PERSONA_MODEL_CACHE", str(CACHE / "models"))}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core.cli", "demo", "--json", "--home", home],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    # ru_maxrss of the largest child so far, in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    return [
        Row("demo", "peak memory of `persona demo` (fresh home)", f"{peak_mb:.0f} MB",
            "<= 1500 MB", peak_mb <= 1500),
        Row("demo", "wall time of `persona demo` (fresh home, model already converted)",
            f"{wall:.1f} s"),
    ]


if __name__ == "__main__":
    print(format_table(run()))
