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
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 200  # often enough that garbage never piles up; a check costs microseconds
# A full collection walks every object (with torch and the models loaded, a noticeable pause
# on the UI thread); CPython also runs them far less often than its threshold alone says.
FULL_EVERY_S = 120.0

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


def pin_to_ui_thread(app: QObject) -> _UiThreadCollector:
    """Call on the UI thread once the QApplication exists; idempotent."""
    global _pinned
    if _pinned is None:
        _pinned = _UiThreadCollector(app)
    gc.disable()
    return _pinned


def unpin() -> None:
    """Automatic collection back on (after a collection here, on the UI thread)."""
    global _pinned
    if _pinned is not None:
        _pinned.stop()
        _pinned.deleteLater()
        _pinned = None
    gc.collect()
    gc.enable()
