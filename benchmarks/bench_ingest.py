"""Batch ingest: `persona ingest` of a folder of 1,000 short notes, one file each.

    python -m benchmarks.bench_ingest            # 1,000 notes
    python -m benchmarks.bench_ingest --quick    # 200 notes

Rows:
- memories/s through ``Pipeline.ingest`` (what `persona ingest` and the app's import call),
  excluding start-up: the embedding model is loaded and the memory store's modules imported
  first (LanceDB's import alone is 1-2 s), as a running app has them; the fresh home's table
  is created inside the timed part; with the CPU seconds of that run (a number other
  processes on the machine disturb less);
- each stage of it alone on the same notes: embedding (the numpy batches the import uses,
  the same on one worker, and sentence-transformers' batches side by side, with the
  smallest cosine between their vectors), emotion tagging, reading and chunking the files; the rest (LanceDB: duplicate
  lookups, writes, the table and its indexes, compaction) is what the timed run spent
  beyond them;
- re-importing the same folder (every note a duplicate: no embedding, one query per batch);
- the whole `persona ingest` command in a new process, start-up included, for comparison.

The notes are generated here (a few hundred distinct everyday sentences), so the benchmark
reads nothing outside the repository. Like `persona ingest`, it asks OpenMP (torch's
sentence-transformers row) to let idle threads sleep rather than spin.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.table import Row, format_table
from persona.core.memory.embed import Embedder
from persona.core.memory.ingest import read_text_memories
from persona.core.paths import Home
from persona.core.pipeline import Pipeline

# Before torch loads (nothing here imports it at import time), as `persona ingest` does.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


def _timed(fn):
    """``fn()``'s result, wall seconds and CPU seconds (all threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def in_process(notes: Path, n: int, root: Path) -> list[Row]:
    pipe = Pipeline(Home.resolve(root / "home"))
    pipe.__dict__["embedder"] = embedder = Embedder.from_settings(pipe.settings)
    embedder.encode(["warm up the model"] * 64)
    pipe.tagger.tag("warm up the word lists")
    pipe.store  # noqa: B018 - imports LanceDB (start-up); the table does not exist yet
    summary, wall, cpu = _timed(lambda: pipe.ingest([notes]))
    assert summary.stored == n and not summary.errors, summary.describe()
    again, dup_wall, _ = _timed(lambda: pipe.ingest([notes]))
    assert again.duplicates == n and again.stored == 0, again.describe()
    rate = n / wall
    return [
        Row("ingest", f"batch ingest of {n:,} short notes (one file each), excluding start-up",
            f"{rate:.0f} memories/s ({wall:.2f} s)", f">= {TARGET:.0f}/s", rate >= TARGET),
        Row("ingest", "  CPU time of that run (both cores)", f"{cpu:.2f} s"),
        *stages(notes, pipe, embedder, wall),
        Row("ingest", f"re-import of the same {n:,} notes (all duplicates)",
            f"{dup_wall:.2f} s"),
    ]


def stages(notes: Path, pipe, embedder: Embedder, wall: float) -> list[Row]:
    """Each stage of the ingest alone, on the same notes, with its share of ``wall``."""
    files = sorted(notes.iterdir())
    memories, read_wall, _ = _timed(lambda: [m for f in files for m in read_text_memories(f)])
    texts = [m.text for m in memories]
    _, tag_wall, _ = _timed(lambda: [pipe.tagger.tag(t) for t in texts])
    vectors, np_wall, np_cpu = _timed(lambda: embedder.encode(texts))
    one = Embedder(embedder.path, threads=1)
    one.encode(["warm up the model"] * 64)
    _, one_wall, one_cpu = _timed(lambda: one.encode(texts))
    torch = Embedder(embedder.path, batches="torch")
    torch.load()
    torch.encode(["warm up the model"] * 64)
    torch_vectors, st_wall, st_cpu = _timed(lambda: torch.encode(texts))
    cosine = float((vectors * torch_vectors).sum(axis=1).min())
    rest = wall - read_wall - tag_wall - np_wall
    n = len(texts)

    def share(s: float) -> str:
        return f"{s:.2f} s, {100 * s / wall:.0f}% of the ingest"

    return [
        Row("ingest", "  embedding alone, numpy batches (what the ingest uses)",
            f"{n / np_wall:.0f}/s ({share(np_wall)}; {np_cpu:.2f} CPU-s)"),
        Row("ingest", "  embedding alone, numpy batches on one worker (for the scaling)",
            f"{n / one_wall:.0f}/s ({one_wall:.2f} s; {one_cpu:.2f} CPU-s)"),
        Row("ingest", "  embedding alone, sentence-transformers batches (torch)",
            f"{n / st_wall:.0f}/s ({st_wall:.2f} s; {st_cpu:.2f} CPU-s)"),
        Row("ingest", "  numpy vs sentence-transformers vectors, smallest cosine",
            f"{cosine:.6f}", ">= 0.9999", cosine >= 0.9999),
        Row("ingest", "  emotion tagging alone", share(tag_wall)),
        Row("ingest", "  reading and chunking the files alone", share(read_wall)),
        Row("ingest", "  the rest (LanceDB: duplicate lookups, writes, table, compaction)",
            share(max(rest, 0.0))),
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
