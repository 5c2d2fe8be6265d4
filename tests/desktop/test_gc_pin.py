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


def test_settling_freezes_survivors_and_frees_what_was_dropped_since(qtbot, qapp):
    """Once models are loaded the app settles: one collection, survivors frozen, so later
    full collections walk only new objects; a settle first unfreezes, so an object dropped
    since the last one (a model replaced in Settings) is still collected."""
    import persona.desktop.gc_pin as pin

    collector = pin._pinned
    assert collector is not None
    before = collector.settles
    kept = [_Cycle() for _ in range(100)]  # long-lived, like a loaded model
    freed: list[bool] = []

    class Dropped(_Cycle):
        def __del__(self) -> None:
            freed.append(True)

    model = Dropped()
    try:
        pin.settle_soon()
        pin.settle_soon()  # a burst of loads settles once
        qtbot.waitUntil(lambda: collector.settles == before + 1, timeout=5000)
        frozen = gc.get_freeze_count()
        assert frozen > len(kept) and not freed  # the cycle of `model` is alive and frozen
        del model  # dropped: only the cyclic collector could free it, and it is frozen
        gc.collect()
        assert not freed  # a frozen object is never collected...
        pin.settle_soon()
        qtbot.waitUntil(lambda: collector.settles == before + 2, timeout=5000)
        assert freed == [True]  # ...until the next settle unfreezes first
    finally:
        gc.unfreeze()
