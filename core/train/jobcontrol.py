"""How the nightly retrain behaves as a background job: one at a time, at low priority, not on
battery, and stopping cleanly when asked.

- ``RunLock``: the training lock (core/filelock.py), taken by every training entry point, so
  two runs never overlap; ``training_status`` tells whether a run is going elsewhere.
- ``lower_priority()``: nice 19, the idle CPU and I/O classes, fewer math threads.
- ``on_battery()`` / ``wait_for_mains()``: read the power supply (Linux sysfs, macOS pmset).
- ``GracefulStop``: SIGTERM/SIGINT set a flag that the training loop checks between steps.

None of this trains anything; ``core/train/runner.py`` puts it together.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from persona.core.errors import PersonaError
from persona.core.filelock import FileLock, LockBusy, lock_holder
from persona.core.train.power import SYSFS_POWER, on_battery, parse_pmset, wait_for_mains

__all__ = ["GracefulStop", "PriorityReport", "RetrainBusyError", "RunLock", "SYSFS_POWER",
           "lower_priority", "on_battery", "parse_pmset", "training_lock_path",
           "training_status", "wait_for_mains"]


class RetrainBusyError(PersonaError):
    """Another training run holds the training lock."""


# ---- the training lock -----------------------------------------------------------------


def training_lock_path(home) -> Path:
    """The one lock file of every training entry point of ``home`` (a core.paths.Home)."""
    return Path(home.root) / "retrain.lock"


class RunLock:
    """``with RunLock(training_lock_path(home)):`` — exclusive and non-blocking.

    Raises RetrainBusyError naming the holder's pid and start time if another process (or
    another thread of this one) holds it. Re-entrant in the thread that holds it, so
    ``run_training`` takes it again inside the nightly job. Because every training entry
    point takes it, a stopped run is only ever resumed once the process that began it has
    released the lock, i.e. has finished or is gone.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = FileLock(self.path, timeout=0)

    def __enter__(self) -> RunLock:
        try:
            self._lock.acquire()
        except LockBusy as exc:
            pid = exc.holder.pid
            stop = f"stop it (kill -TERM {pid})" if pid else "stop it"
            raise RetrainBusyError(
                f"another training run is going ({exc.holder.describe()}); wait for it to "
                f"finish, or {stop} and run again. Lock file: {self.path}") from None
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


def training_status(home) -> dict | None:
    """The training run going now, read from the lock without taking it: ``{"pid",
    "started", "this_process"}``, or None when none is (a lock file left by a process that
    died reads as none). The pid and start time are None for the instant between a run
    taking the lock and writing them."""
    holder = lock_holder(training_lock_path(home))
    if holder is None:
        return None
    return {"pid": holder.pid, "started": holder.started,
            "this_process": holder.pid == os.getpid()}


# ---- low priority ------------------------------------------------------------------------

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
# ioprio_set(2) syscall numbers; on other machines the idle I/O class is simply not set.
_IOPRIO_SET = {"x86_64": 251, "aarch64": 30, "i686": 289, "armv7l": 314}
_IOPRIO_CLASS_IDLE, _IOPRIO_WHO_PROCESS = 3, 1


@dataclass
class PriorityReport:
    """What ``lower_priority`` did, for the run's log."""

    nice: int
    cpu_idle: bool  # SCHED_IDLE (Linux) or the background policy (macOS)
    io_idle: bool
    threads: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"nice {self.nice}", "cpu idle" if self.cpu_idle else "cpu normal",
                 "io idle" if self.io_idle else "io normal", f"{self.threads} threads"]
        return ", ".join(parts) + "".join(f"; {n}" for n in self.notes)


def lower_priority(*, threads: int | None = None) -> PriorityReport:
    """Make this process a polite background job. Irreversible for the process (an
    unprivileged process cannot raise its priority again), so call it in the job only.

    ``threads``: math threads for torch/BLAS; by default every core when the idle CPU class
    is set (the kernel then runs us only when nothing else wants the CPU), else all but one.
    Thread variables the person has set themselves are left alone.
    """
    notes: list[str] = []
    nice = os.nice(19 - os.nice(0)) if hasattr(os, "nice") else 0
    cpu_idle = False
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            cpu_idle = True
        except OSError as exc:
            notes.append(f"SCHED_IDLE refused ({exc.strerror})")
    elif sys.platform == "darwin":
        cpu_idle = _darwin_background(notes)
    io_idle = _io_idle(notes)

    cores = os.cpu_count() or 1
    if threads is None:
        threads = cores if cpu_idle else max(1, cores - 1)
    threads = max(1, int(threads))
    for var in _THREAD_VARS:
        if not os.environ.get(var):
            os.environ[var] = str(threads)
    torch = sys.modules.get("torch")  # already loaded: the variables came too late for it
    if torch is not None:
        torch.set_num_threads(threads)
    return PriorityReport(nice=nice, cpu_idle=cpu_idle, io_idle=io_idle, threads=threads,
                          notes=notes)


def _darwin_background(notes: list[str]) -> bool:
    # os.PRIO_DARWIN_BG (Python 3.12+) throttles CPU and I/O like launchd's Background type.
    which, bg = getattr(os, "PRIO_DARWIN_PROCESS", None), getattr(os, "PRIO_DARWIN_BG", None)
    if which is None or bg is None:
        notes.append("macOS background policy needs Python 3.12")
        return False
    try:
        os.setpriority(which, 0, bg)
        return True
    except OSError as exc:
        notes.append(f"background policy refused ({exc.strerror})")
        return False


def _io_idle(notes: list[str]) -> bool:
    number = _IOPRIO_SET.get(platform.machine()) if sys.platform.startswith("linux") else None
    if number is None:
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(number, _IOPRIO_WHO_PROCESS, 0, _IOPRIO_CLASS_IDLE << 13) == 0:
            return True
        notes.append(f"idle I/O class refused ({os.strerror(ctypes.get_errno())})")
    except (OSError, AttributeError) as exc:
        notes.append(f"idle I/O class unavailable ({exc})")
    return False


# ---- stopping cleanly ------------------------------------------------------------------


class GracefulStop:
    """``with GracefulStop() as stop: ... if stop.requested: checkpoint; break``.

    SIGTERM and SIGINT set ``stop.requested`` instead of killing the process; the old
    handlers come back on exit. A second Ctrl-C raises KeyboardInterrupt (the person
    insists). Outside the main thread no handler can be installed; ``request()`` still
    works there (the desktop's cancel button).
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._old: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.requested

    def request(self, reason: str = "request") -> None:
        self.requested = True
        self.signal_name = self.signal_name or reason

    def _handle(self, signum: int, _frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.request(signal.Signals(signum).name)

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
