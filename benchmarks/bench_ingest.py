"""Batch ingest: `persona ingest` of a folder of 1,000 short notes, one file each.

    python -m benchmarks.bench_ingest            # 1,000 notes
    python -m benchmarks.bench_ingest --quick    # 200 notes

Rows:
- memories/s through ``Pipeline.ingest`` (what `persona ingest` and the app's import call),
  excluding start-up: the embedding model is loaded first, as the command does before it
  reads anything; the fresh home's table is created inside the timed part;
- the CPU seconds of that run (a number other processes on the machine disturb less);
- the whole `persona ingest` command in a new process, start-up included, for comparison
  (it sets OMP_WAIT_POLICY=PASSIVE; the in-process rows keep this process's policy, so on
  a busy machine the two differ by more than the start-up);
- re-importing the same folder (every note a duplicate: no embedding, one query per batch).

The notes are generated here (a few hundred distinct everyday sentences), so the benchmark
reads nothing outside the repository.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.table import Row, format_table
from persona.core.memory.embed import Embedder
from persona.core.paths import Home
from persona.core.pipeline import Pipeline

TARGET = 300.0  # memories per second, 2 cores, excluding start-up

WHO = ["Ana", "my sister", "Oskar", "the neighbour", "grandma", "my boss", "Teo", "the dog",
       "my brother", "an old friend"]
DID = ["walked to the harbour with", "had coffee with", "argued about money with",
       "cooked soup for", "called", "laughed a lot with", "went cycling with",
       "worried about", "wrote a letter to", "missed"]
WHEN = ["this morning", "after work", "on Sunday", "at lunch", "late at night",
        "before the rain", "on the train", "in the garden"]


def write_notes(folder: Path, n: int) -> Path:
    """``n`` one-sentence notes (~60 characters), one file each, all different."""
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = f"I {rng.choice(DID)} {rng.choice(WHO)} {rng.choice(WHEN)} (note {i})."
        (folder / f"note{i:04d}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def in_process(notes: Path, n: int, root: Path) -> list[Row]:
    pipe = Pipeline(Home.resolve(root / "home"))
    pipe.__dict__["embedder"] = embedder = Embedder.from_settings(pipe.settings)
    embedder.load()
    embedder.encode(["warm up the model"] * 64)
    pipe.tagger.tag("warm up the word lists")
    t0, c0 = time.perf_counter(), time.process_time()
    summary = pipe.ingest([notes])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert summary.stored == n and not summary.errors, summary.describe()
    t1 = time.perf_counter()
    again = pipe.ingest([notes])
    dup_wall = time.perf_counter() - t1
    assert again.duplicates == n and again.stored == 0, again.describe()
    rate = n / wall
    return [
        Row("ingest", f"batch ingest of {n:,} short notes (one file each), excluding start-up",
            f"{rate:.0f} memories/s ({wall:.2f} s)", f">= {TARGET:.0f}/s", rate >= TARGET),
        Row("ingest", "  CPU time of that run (both cores)", f"{cpu:.2f} s"),
        Row("ingest", f"re-import of the same {n:,} notes (all duplicates)",
            f"{dup_wall:.2f} s"),
    ]


def whole_command(notes: Path, n: int, root: Path) -> list[Row]:
    home = root / "home-cli"
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "persona.core.cli", "ingest", str(notes),
                           "--home", str(home), "--json"],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    out = json.loads(done.stdout)
    assert out["stored"] == n, out
    return [Row("ingest", f"`persona ingest` of the {n:,} notes, new process, start-up "
                          f"included", f"{wall:.1f} s ({n / wall:.0f} memories/s)")]


def run(quick: bool = False) -> list[Row]:
    n = 200 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="persona-bench-ingest-") as tmp:
        root = Path(tmp)
        notes = write_notes(root / "notes", n)
        return in_process(notes, n, root) + whole_command(notes, n, root)


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
