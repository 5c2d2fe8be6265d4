"""Exclusive lock files shared by every process that works on one home.

The app, `persona` commands and the nightly retrain run side by side; a lock file makes one
of them wait (memory writes) or refuses it (training). The kernel drops the lock when its
process dies, so a lock left by a killed process is free again at once.

- ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows.
- Re-entrant within one thread (``run_training`` takes the training lock that the nightly
  job already holds); another thread of the same process is excluded like another process.
- The holder writes its pid and start time into the file, for the message of whoever is
  refused and for ``lock_holder``, which reads them without taking the lock.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# A byte far past the end of the lock file is what msvcrt locks, so the pid and start time
# written at offset 0 stay readable by the process that is refused.
_MSVCRT_LOCK_OFFSET = 1 << 30

_registry_lock = threading.Lock()
_held: dict[tuple[str, int], list[int]] = {}  # (path, thread) -> [fd, depth]


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: as written in its file (both None while it is being written)."""

    pid: int | None
    started: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "pid unknown, it has just started"
        return f"pid {self.pid}, since {self.started}"


class LockBusy(BlockingIOError):
    """The lock is held by another process or thread (``holder`` says who)."""

    def __init__(self, path: Path, holder: Holder) -> None:
        super().__init__(f"{path} is locked by {holder.describe()}")
        self.path = path
        self.holder = holder


class FileLock:
    """``with FileLock(path, timeout=...):`` an exclusive lock on ``path``.

    ``timeout`` 0 refuses at once; a number waits up to that many seconds; None waits for
    ever. A refusal raises ``LockBusy``. The file is left in place on release (deleting a lock
    file races with a process that has just opened it) but emptied, so no stale pid remains.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float | None = 0.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    @property
    def _key(self) -> tuple[str, int]:
        return (str(self.path.absolute()), threading.get_ident())

    def acquire(self) -> None:
        key = self._key
        with _registry_lock:
            if key in _held:
                _held[key][1] += 1
                return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps({"pid": os.getpid(), "started": started}) + "\n")
                  .encode("ascii"), 0)
        with _registry_lock:
            _held[key] = [fd, 1]

    def _wait(self, fd: int) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        pause = 0.001
        while True:
            try:
                _try_lock(fd)
                return
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockBusy(self.path, _parse(_read(fd))) from None
            # Short pauses first: a memory write holds the lock for a few milliseconds.
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def release(self) -> None:
        key = self._key
        with _registry_lock:
            entry = _held.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[key]
        fd = entry[0]
        try:
            os.ftruncate(fd, 0)  # no stale pid for the next reader
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def held_here(self) -> bool:
        """True when this thread holds the lock."""
        with _registry_lock:
            return self._key in _held

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _try_lock(fd: int) -> None:
    """Lock ``fd`` exclusively or raise BlockingIOError."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, _MSVCRT_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            raise BlockingIOError(str(exc)) from exc
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read(fd: int) -> bytes:
    try:
        return os.pread(fd, 4096, 0)
    except OSError:
        return b""


def _parse(raw: bytes) -> Holder:
    try:
        info = json.loads(raw.decode("ascii"))
        return Holder(pid=int(info["pid"]), started=str(info["started"]))
    except (ValueError, KeyError, TypeError):
        # The holder has taken the lock but not written its pid yet.
        return Holder(pid=None, started=None)


def lock_holder(path: str | os.PathLike[str]) -> Holder | None:
    """Who holds the lock at ``path`` now, read without taking it (taking it, even briefly,
    would refuse a process starting at that moment); None when nobody does. A file left by a
    process that has died reads as free."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        inode = path.stat().st_ino
    except OSError:
        return None
    holder = _parse(raw)
    locked = _flock_pids(inode)
    if locked:  # Linux: the kernel's own table of locks names the holder
        return holder if holder.pid in locked else Holder(pid=min(locked), started=None)
    # Elsewhere (or where the table names files differently, as on some overlay file
    # systems) a file naming a live process is taken as held: only a crash leaves one behind.
    if holder.pid is None or not pid_alive(holder.pid):
        return None
    return holder


def _flock_pids(inode: int) -> set[int]:
    """Pids holding a flock on the file with ``inode`` (from /proc/locks); empty where the
    system has no such table."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return set()
    pids = set()
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters carry "->".
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        if parts[5].rsplit(":", 1)[-1] == str(inode):
            pids.add(int(parts[4]))
    return pids


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return False
        try:
            return kernel32.WaitForSingleObject(handle, 0) == 0x102  # WAIT_TIMEOUT: running
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
