"""Writes to the memory table from several processes at once: serialised, retried, and never
reported as failed once they committed.

The app, `persona remember` and the nightly job may write to one store at the same time.
LanceDB lets concurrent writers race: one of them fails with a "commit conflict" (often the
compaction that follows a write, after the rows were stored), and a compaction in one process
can delete the index files another is reading. So every write to the table (add, delete,
edit, compact) holds one lock file next to the store, and inside it:

- the caller re-reads what it decided on (duplicates, ids) from the newest table version;
- ``commit`` retries a write that lost a commit race and, when a write raised although its
  change is in the table, reports success instead of a failure.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from persona.core.errors import StoreError
from persona.core.filelock import FileLock, LockBusy

log = logging.getLogger(__name__)

# Long enough for another process to compact a big table or build its vector index
# (seconds at 100k memories), short enough that a stuck writer is reported.
WAIT_SECONDS = 120.0
ATTEMPTS = 5

# How LanceDB words a lost commit race (lance's CommitConflict, RetryableCommitConflict and
# TooMuchWriteContention errors all reach Python as RuntimeError/OSError with this text).
_CONFLICT = re.compile(r"commit conflict|concurrent (commit|transaction|writer)|"
                       r"write contention|preempted|please retry", re.IGNORECASE)


def lock_path(store_path: str | os.PathLike[str]) -> Path:
    """The lock file of the store at ``store_path``: beside the folder, not in it, so that
    LanceDB never lists it as a table."""
    p = Path(store_path)
    return p.with_name(p.name + ".lock")


class WriteLock:
    """``with WriteLock(store.path):`` the store's write lock, waiting for another writer.

    Re-entrant in its thread (a write that compacts takes it again). Waiting longer than
    ``WAIT_SECONDS`` raises ``StoreError`` naming the process that holds it.
    """

    def __init__(self, store_path: str | os.PathLike[str], *,
                 timeout: float = WAIT_SECONDS) -> None:
        self._lock = FileLock(lock_path(store_path), timeout=timeout)
        self.store_path = Path(store_path)

    def __enter__(self) -> WriteLock:
        try:
            self._lock.acquire()
        except LockBusy as exc:
            raise StoreError(
                f"The memory store at {self.store_path} is busy: another process "
                f"({exc.holder.describe()}) has been writing to it for over "
                f"{self._lock.timeout:.0f} s. Try again when it has finished; if that process "
                f"hangs, stop it.") from None
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


def is_conflict(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is LanceDB losing a commit race."""
    while exc is not None:
        if _CONFLICT.search(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def commit(write: Callable[[], object], landed: Callable[[], bool], *, what: str,
           attempts: int = ATTEMPTS) -> None:
    """Run ``write`` until it commits; ``landed()`` says whether its change is in the table.

    A write that raised but ``landed`` is a success (the commit happened; what failed came
    after it). A lost commit race is retried after a short pause; anything else, or a race
    lost ``attempts`` times, is raised.
    """
    for attempt in range(1, attempts + 1):
        try:
            write()
            return
        except (OSError, RuntimeError, ValueError) as exc:
            try:
                done = landed()
            except Exception:  # noqa: BLE001 - cannot tell: retry or raise the write's error
                done = False
            if done:
                log.info("%s raised after it committed; the change is stored (%s)", what, exc)
                return
            if attempt == attempts or not is_conflict(exc):
                raise
            log.info("%s lost a commit race (attempt %d of %d); retrying", what, attempt,
                     attempts)
            time.sleep(0.05 * attempt)
