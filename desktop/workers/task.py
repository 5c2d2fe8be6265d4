"""Run slow core work off the UI thread and hear about it as Qt signals.

``start_task(fn, ...)`` runs ``fn(task)`` on the app's thread pool; inside, ``task.progress(done,
total, text)`` reports progress and ``task.cancelled`` says whether the person pressed Cancel.
Results and ``PersonaError`` messages come back as signals, delivered on the UI thread. A
crash in ``fn`` is logged with its traceback and shown as a plain message: never a traceback
dialog, never a frozen window.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from persona.core.errors import PersonaError

log = logging.getLogger(__name__)

_live: set[Task] = set()  # keeps running tasks (and their signal objects) alive
_live_lock = threading.Lock()


class TaskSignals(QObject):
    progress = Signal(int, int, str)  # done, total, what is happening
    result = Signal(object)
    error = Signal(str)  # a message for the person: what went wrong and what to do
    finished = Signal()  # after result or error, also when cancelled


class Task(QRunnable):
    """One piece of background work; see the module docstring."""

    def __init__(self, fn: Callable[[Task], Any], *, name: str = "task") -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.name = name
        self.signals = TaskSignals()
        self._cancel = threading.Event()
        self.done = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def progress(self, done: int, total: int, text: str = "") -> None:
        self.signals.progress.emit(int(done), int(total), text)

    def run(self) -> None:  # on a pool thread
        try:
            value = self.fn(self)
        except PersonaError as exc:
            self._emit(self.signals.error, str(exc))
        except MemoryError:
            self._emit(self.signals.error, f"{self.name} ran out of memory; close other "
                       "programs or choose a smaller model in Settings.")
        except OSError as exc:
            self._emit(self.signals.error, f"{self.name} failed: {exc.strerror or exc}. Check "
                       "that the disk has space and the data folder is writable.")
        except Exception as exc:  # a bug: log it in full, tell the person in one line
            log.exception("%s failed", self.name)
            self._emit(self.signals.error, f"{self.name} failed unexpectedly "
                       f"({type(exc).__name__}: {exc}). Details are in the log.")
        else:
            self._emit(self.signals.result, value)
        finally:
            self.done.set()
            self._emit(self.signals.finished)
            with _live_lock:
                _live.discard(self)

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the app is quitting and has deleted the receiving objects
            log.debug("%s finished after the app closed", self.name)


def start_task(fn: Callable[[Task], Any], *, name: str,
               on_result: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None,
               on_progress: Callable[[int, int, str], None] | None = None,
               on_finished: Callable[[], None] | None = None,
               pool: QThreadPool | None = None) -> Task:
    """Start ``fn(task)`` on ``pool`` (the global pool by default) and wire the callbacks.

    The callbacks run on the UI thread (queued connections to the signals).
    """
    task = Task(fn, name=name)
    s = task.signals
    if on_result is not None:
        s.result.connect(on_result)
    if on_error is not None:
        s.error.connect(on_error)
    if on_progress is not None:
        s.progress.connect(on_progress)
    if on_finished is not None:
        s.finished.connect(on_finished)
    with _live_lock:
        _live.add(task)
    (pool or QThreadPool.globalInstance()).start(task)
    return task
