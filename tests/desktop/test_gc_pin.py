"""The cyclic garbage collector runs on the UI thread only (desktop/gc_pin.py)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QThread


class _Cycle(QObject):
    """A Qt object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        super().__init__()
        self.me = self


def test_cycles_are_collected_on_the_ui_thread_not_on_a_busy_worker(qtbot, qapp):
    assert not gc.isenabled()  # pinned for the desktop tests, as `persona app` pins it
    gc.collect()
    freed_on: list[bool] = []

    class Watched(_Cycle):
        def __del__(self) -> None:
            freed_on.append(QThread.currentThread() is qapp.thread())

    Watched()  # unreachable at once, except through its own cycle

    def allocate() -> None:  # far past every generation threshold
        for _ in range(20):
            for i in range(50_000):
                pair = [i]
                pair.append(pair)  # a cycle: counts towards the collector's thresholds

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert freed_on == []  # the worker's allocations started no collection
    qtbot.waitUntil(lambda: bool(freed_on), timeout=5000)  # the UI thread's timer did
    assert freed_on == [True]
