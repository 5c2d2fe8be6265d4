"""Memory writes shared between handles and processes: the lock file, the re-check on the
newest table version, retries, and never reporting a committed write as failed.

Real LanceDB and the real embedder; the lock holder is a real child process.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from persona.core.errors import StoreError
from persona.core.memory import writelock
from persona.core.memory.schema import Memory
from persona.core.memory.store import MemoryStore
from tests.conftest import ROOT

HOLD_WRITE_LOCK = """
    import sys
    from persona.core.memory.writelock import WriteLock
    with WriteLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()  # until the test says so
"""


def test_a_second_handle_sees_the_first_ones_rows_and_does_not_store_them_again(
        tmp_path, embedder):
    path = tmp_path / "memory.lancedb"
    app, cli = MemoryStore(path, embedder), MemoryStore(path, embedder)
    assert cli.count() == 0  # opened (and cached "no table") before anything was stored
    first = app.add(Memory(text="The dentist moved to Fridays."))
    assert cli.count() == 1
    again = cli.add([Memory(text="the dentist  moved to Fridays."),
                     Memory(text="Bread is in the freezer.")])
    assert [d.existing_id for d in again.duplicates] == first.ids
    assert len(again.ids) == 1 and app.count() == 2
    app.delete(again.ids[0])
    assert cli.count() == 1


def test_the_lock_file_sits_beside_the_store_and_is_private(tmp_path, embedder):
    store = MemoryStore(tmp_path / "memory.lancedb", embedder)
    store.add(Memory(text="A note."))
    lock = writelock.lock_path(store.path)
    assert lock == tmp_path / "memory.lancedb.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert lock.read_text() == ""  # released: no stale pid
    assert [t for t in store._connect().table_names()] == ["memories"]


def test_a_write_waits_for_another_process_that_holds_the_lock(tmp_path, embedder):
    store = MemoryStore(tmp_path / "memory.lancedb", embedder)
    store.add(Memory(text="Stored before the other process came."))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD_WRITE_LOCK),
                               str(store.path)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        busy = rf"busy: another process \(pid {holder.pid}"
        with pytest.raises(StoreError, match=busy), writelock.WriteLock(store.path, timeout=0.2):
            pass

        def release() -> None:
            holder.stdin.write("\n")
            holder.stdin.flush()

        # The holder lets go half a second after this write has begun waiting for it.
        timer = threading.Timer(0.5, release)
        t0 = time.monotonic()
        timer.start()
        result = store.add(Memory(text="Written once the other process let go."))
        waited = time.monotonic() - t0
        timer.join()
    finally:
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0
    assert len(result.ids) == 1 and store.count() == 2
    assert waited >= 0.5


# LanceDB's commit races cannot be produced on demand, so these writes fail the way it does
# (the message is one a real two-process run printed) around a real LanceDB table.
CONFLICT = ("lance error: Retryable commit conflict for version 19: This Rewrite transaction "
            "was preempted by concurrent transaction Rewrite at version 19. Please retry.")


def scripted_write(store: MemoryStore, *, raise_before: int = 0, raise_after: bool = False,
                   error: Exception | None = None):
    """A real delete of every row, which raises ``error`` instead of writing on its first
    ``raise_before`` attempts, or raises it after writing (``raise_after``)."""
    error = error or RuntimeError(CONFLICT)
    attempts: list[int] = []

    def write() -> None:
        attempts.append(1)
        if len(attempts) <= raise_before:
            raise error
        store.table.delete("text IS NOT NULL")
        if raise_after:
            raise error

    return write, attempts


@pytest.mark.parametrize("script, raised, tries, left", [
    # committed, then what followed (e.g. the compaction) lost a race: a success, no retry
    (dict(raise_after=True), None, 1, 0),
    (dict(raise_before=1), None, 2, 0),  # lost one race: retried
    (dict(raise_before=9, error=OSError("No space left on device")), OSError, 1, 1),
    (dict(raise_before=9), RuntimeError, 3, 1),  # lost every race: raised at last
])
def test_commit_retries_lost_races_and_never_fails_a_committed_write(
        tmp_path, embedder, script, raised, tries, left):
    store = MemoryStore(tmp_path / "memory.lancedb", embedder)
    store.add(Memory(text="One."))
    write, attempts = scripted_write(store, **script)
    if raised is None:
        writelock.commit(write, lambda: store.count() == 0, what="test write", attempts=3)
    else:
        with pytest.raises(raised):
            writelock.commit(write, lambda: store.count() == 0, what="test write", attempts=3)
    assert len(attempts) == tries and store.count() == left


def test_conflicts_are_recognised_through_the_store_error_that_wraps_them():
    try:
        try:
            raise RuntimeError(CONFLICT)
        except RuntimeError as exc:
            raise StoreError("The memory store could not store new memories") from exc
    except StoreError as wrapped:
        assert writelock.is_conflict(wrapped)
    assert not writelock.is_conflict(OSError("Not a directory"))
