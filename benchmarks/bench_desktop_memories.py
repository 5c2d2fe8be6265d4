"""The memory browser over 100,000 memories: is the UI thread ever blocked?

    python -m benchmarks.bench_desktop_memories            # 100k memories
    python -m benchmarks.bench_desktop_memories --quick    # 2,000 memories

The Memories view opens over a real LanceDB store, then scrolls page after page to the end
of 10,000 rows, runs hybrid searches (typed into the search box) and changes filters, while a
5 ms heartbeat QTimer on the UI thread records the longest gap between its ticks: the worst
stall a person could feel (target: at most 50 ms over the 5 ms period).

The memories are real text (tinyshakespeare runs, as in bench_memory) with times spread over
three years and random sources and emotions. Their vectors are random unit vectors, so the
100k store builds in a minute instead of embedding for a quarter of an hour: the cost of
reading, filtering and ranking rows does not depend on the vectors' values. Queries are
embedded by the real model, warmed up first (as the app's start-up does). The store is cached
under benchmarks/.cache/desktop-memories/.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from benchmarks.bench_memory import QUERIES, corpus_texts
from benchmarks.heartbeat import Heartbeat, pump_until
from benchmarks.table import Row, format_table

CACHE = Path(__file__).resolve().parent / ".cache" / "desktop-memories"
STALL_TARGET_MS = 50.0
EMOTIONS = ("neutral", "happy", "sad", "angry", "anxious", "calm", "excited")
SOURCES = ("voice", "text", "import", "chat")


class RandomVectors:
    """Seeded random unit vectors for stored texts; the real model for queries."""

    def __init__(self, real, dim: int = 384) -> None:
        self.real, self.path, self.dim = real, real.path, dim
        self.rng = np.random.default_rng(0)

    def encode(self, texts):
        v = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def encode_query(self, text):
        return self.real.encode_query(text)


def build_home(n: int, log=print) -> Path:
    """A home holding ``n`` memories (built once, then reused from the cache)."""
    from persona.core.memory.embed import Embedder
    from persona.core.memory.schema import Memory
    from persona.core.memory.store import MemoryStore
    from persona.core.paths import Home

    root = CACHE / f"home-{n}"
    if (root / "built").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    home = Home.resolve(root).ensure()
    (root / "onboarded").touch()
    rng = np.random.default_rng(1)
    start = datetime(2023, 1, 1, tzinfo=timezone.utc)
    seconds = np.sort(rng.integers(0, 3 * 365 * 86400, n))
    store = MemoryStore(home.memory_dir, RandomVectors(Embedder()))
    texts = corpus_texts(n)
    t0 = time.perf_counter()
    for i in range(0, n, 5000):
        batch = [Memory(t, source=SOURCES[rng.integers(4)], emotion=EMOTIONS[rng.integers(7)],
                        valence=float(rng.uniform(-1, 1)), arousal=float(rng.uniform(0, 1)),
                        ts=start + timedelta(seconds=int(seconds[i + j])))
                 for j, t in enumerate(texts[i:i + 5000])]
        store.add(batch, compact=False)
        log(f"  stored {min(i + 5000, n)}/{n}")
    store.compact()
    log(f"  built in {time.perf_counter() - t0:.0f} s")
    (root / "built").touch()
    return root


def _wait(app, cond, timeout: float = 120.0) -> float:
    """Run the event loop until ``cond()``; returns the seconds it took."""
    t0 = time.perf_counter()
    if not pump_until(cond, timeout):
        raise TimeoutError("the memory browser did not answer in time")
    return time.perf_counter() - t0


def run(quick: bool = False, log=print) -> list[Row]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    n = 2_000 if quick else 100_000
    root = build_home(n, log=log)
    from PySide6.QtWidgets import QApplication

    from persona.core.paths import Home
    from persona.desktop.context import AppContext
    from persona.desktop.gc_pin import pin_to_ui_thread
    from persona.desktop.theme import apply_theme
    from persona.desktop.window import MainWindow

    app = QApplication.instance() or QApplication([])
    pin_to_ui_thread(app)  # as the app does
    apply_theme(app)
    ctx = AppContext(Home.resolve(root))
    ctx.pipeline.embedder.encode_query("warm up")  # the app loads it at start-up
    window = MainWindow(ctx)
    window.resize(1040, 720)
    window.show()
    built: list = []
    window.build_pages_when_idle(lambda: built.append(1))  # as the app does after launch
    _wait(app, lambda: bool(built))
    beat = Heartbeat()
    rows: list[Row] = []
    label = f"@{n // 1000}k"

    def stall_row(what: str) -> None:
        ok = beat.worst_ms <= STALL_TARGET_MS
        rows.append(Row("desktop_memories", f"worst UI stall {label}, {what}",
                        f"{beat.worst_ms:.1f} ms", f"<= {STALL_TARGET_MS:.0f} ms", ok))

    beat.start()
    t0 = time.perf_counter()
    view = window.show_view("memories")  # built already: loading its data is what is timed
    ctrl = window.controllers["memories"]
    model = ctrl.model
    _wait(app, lambda: model.total == n and model.rowCount() > 0 and not model.busy)
    rows.append(Row("desktop_memories", f"open the view to the first rows {label}",
                    f"{(time.perf_counter() - t0) * 1000:.0f} ms"))
    _wait(app, lambda: not ctrl.tasks or all(t.done.is_set() for t in ctrl.tasks))
    stall_row("opening (index, first page, charts)")

    beat.start()
    pages, target = [], min(10_000, n)
    while model.rowCount() < target:
        have = model.rowCount()
        t1 = time.perf_counter()
        view.table.scrollToBottom()  # the view asks the model for more (fetchMore)
        _wait(app, lambda h=have: model.rowCount() > h)
        pages.append(time.perf_counter() - t1)
    rows.append(Row("desktop_memories", f"scroll: next page of 200 rows p50 {label}",
                    f"{np.percentile(pages, 50) * 1000:.0f} ms"))
    stall_row(f"scrolling to row {target:,}")

    beat.start()
    took = []
    for q in QUERIES[:10]:
        t1 = time.perf_counter()
        view.search.setText(q)
        ctrl.apply_filters()  # Enter: no typing pause to wait for
        _wait(app, lambda q=q: model.query == q and not model.busy)
        took.append(time.perf_counter() - t1)
    rows.append(Row("desktop_memories", f"hybrid search to results p50 {label}",
                    f"{np.percentile(took, 50) * 1000:.0f} ms"))
    stall_row("10 searches")

    beat.start()
    view.search.clear()
    took = []
    for emotion in ("happy", "sad", None):
        t1 = time.perf_counter()
        view.emotion.setCurrentIndex(max(0, view.emotion.findData(emotion)))  # reloads
        _wait(app, lambda: model.rowCount() > 0 and not model.busy)
        took.append(time.perf_counter() - t1)
    rows.append(Row("desktop_memories", f"filter change to first rows p50 {label}",
                    f"{np.percentile(took, 50) * 1000:.0f} ms"))
    stall_row("3 filter changes")
    beat.stop()
    ctrl.shutdown()
    window.close()
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv[1:])))
