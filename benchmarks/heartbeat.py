"""How long the Qt UI thread was blocked: the worst gap between ticks of a fast timer.

A 5 ms QTimer on the UI thread ticks as long as the event loop runs; any gap longer than
the interval is time the window could not react (a frozen window shows as a long gap).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt, QTimer


class Heartbeat:
    def __init__(self, interval_ms: int = 5) -> None:
        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self._last: float | None = None
        self._timer = QTimer(interval=interval_ms, timeout=self._tick)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> Heartbeat:
        self.gaps.clear()
        self._last = None
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.stop()

    @property
    def worst_ms(self) -> float:
        return 1000 * max(self.gaps, default=0.0)

    def stalls_over(self, ms: float) -> int:
        return sum(g * 1000 > ms for g in self.gaps)


def pump_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until ``done()`` or the timeout; True if done."""
    app = QCoreApplication.instance()
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.001)
    return True
