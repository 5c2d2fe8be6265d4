"""Python's cyclic garbage collector runs on the UI thread only.

CPython collects in whichever thread crosses an allocation threshold. The app's workers
allocate a lot (embeddings, transcripts, training), so a collection would often start on a pool
thread, and a reference cycle holding a Qt object (a closed dialog, a dropped widget and its
lambdas) would then be destroyed there: Qt objects must die on the thread they live on, and
that is a segmentation fault (seen in CI: "Garbage-collecting" on a pool thread inside an
import, under the onboarding test's ingest).

``pin_to_ui_thread(app)`` turns automatic collection off and collects from a timer on the UI
thread instead, by the same generation thresholds CPython uses (the pattern calibre and
pyqtgraph use). ``unpin()`` restores automatic collection (tests use it to leave the process
as they found it). Reference counting, which frees almost everything, is untouched.

A full collection walks every object: with the models loaded (~210,000 objects) it took
120-140 ms, a pause on the UI thread every two minutes. ``settle_soon()`` (called whenever
models finish loading) collects once and then moves every survivor to the permanent
generation (``gc.freeze``): later full collections walk only what was made since (< 1 ms
measured). Each settle first unfreezes, so a model dropped since the last one is collected
then, not kept for ever by the freeze.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 200  # often enough that garbage never piles up; a check costs microseconds
# A full collection walks every object (with torch and the models loaded, a noticeable pause
# on the UI thread); CPython also runs them far less often than its threshold alone says.
FULL_EVERY_S = 120.0

SETTLE_DELAY_MS = 1500  # models load one after another: settle once they all have

_pinned: _UiThreadCollector | None = None


class _UiThreadCollector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.collections = 0
        self._last_full = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()
        self.settles = 0
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_DELAY_MS)
        self._settle.timeout.connect(self.settle)

    def settle(self) -> None:
        """Collect everything, then freeze the survivors (see the module's docstring)."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._last_full = time.monotonic()
        self.settles += 1

    def check(self) -> None:
        """Collect the oldest generation whose count is over its threshold (as CPython
        would), the oldest one at most every ``FULL_EVERY_S``."""
        counts = gc.get_count()
        thresholds = gc.get_threshold()
        for generation in (2, 1, 0):
            limit = thresholds[generation]
            if not limit or counts[generation] <= limit:
                continue
            if generation == 2:
                now = time.monotonic()
                if now - self._last_full < FULL_EVERY_S:
                    continue
                self._last_full = now
            gc.collect(generation)
            self.collections += 1
            return

    def stop(self) -> None:
        self._timer.stop()
        self._settle.stop()


def pin_to_ui_thread(app: QObject) -> _UiThreadCollector:
    """Call on the UI thread once the QApplication exists; idempotent."""
    global _pinned
    if _pinned is None:
        _pinned = _UiThreadCollector(app)
    gc.disable()
    return _pinned


def settle_soon() -> None:
    """Models were loaded (or dropped): settle once the loading is over, on the UI thread.
    Does nothing when collection is not pinned (tests of single widgets)."""
    if _pinned is not None:
        _pinned._settle.start()  # restarted by every call: one settle for a burst


def unpin() -> None:
    """Automatic collection back on (after a collection here, on the UI thread)."""
    global _pinned
    if _pinned is not None:
        _pinned.stop()
        _pinned.deleteLater()
        _pinned = None
    gc.unfreeze()
    gc.collect()
    gc.enable()
