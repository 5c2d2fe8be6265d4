"""An append-only, durable, checksummed JSON-lines file: the storage under the privacy ledger.

Each line is one self-describing event::

    {"checksum": "sha256:…", "event": "begin", "format": "persona-privacy-ledger/1",
     "prev": "sha256:…", "seq": 3, …}

``checksum`` covers every other key (canonical JSON); ``prev`` is the checksum of the line
before and ``seq`` its position, so an edited, dropped or reordered line is detected.
Appends are ``write + fsync`` (and the folder is fsync'd when the file is created), under an
exclusive lock file, so two processes never interleave.

A crash mid-write leaves at most one torn line at the very end, with no newline; reading
ignores exactly that (nothing it described ever took effect: the writer had not returned).
Any other bad line is an error, because silently skipping it could under-report.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from persona.core.errors import PrivacyError

FORMAT = "persona-privacy-ledger/1"


def canonical(obj: dict) -> bytes:
    """The one byte form of an event that checksums are computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def checksum(event: dict) -> str:
    body = {k: v for k, v in event.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """One append-only events file with its lock (``<name>.lock`` next to it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    # ---- reading -------------------------------------------------------------------------

    def read(self) -> list[dict]:
        """Every event, verified; a torn last line is ignored. Missing file: no events."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        events, _torn = self._parse(data)
        return events

    def _parse(self, data: bytes) -> tuple[list[dict], bytes]:
        """(events, torn tail bytes). Raises PrivacyError on any bad line but a torn tail."""
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, as every whole line does
        events: list[dict] = []
        for number, raw in enumerate(lines, start=1):
            event = self._verify(raw, events)
            if isinstance(event, str):
                raise PrivacyError(
                    f"The privacy ledger {self.path} is damaged at line {number}: {event}. "
                    f"Persona will not guess what was spent; restore the file from a backup "
                    f"(it is append-only, so any older copy is a prefix of the right one).")
            events.append(event)
        if tail:
            event = self._verify(tail, events)
            if isinstance(event, str):  # torn by a crash mid-write: it never took effect
                return events, tail
            events.append(event)  # whole but missing its newline; the next append adds it
        return events, b""

    def _verify(self, raw: bytes, before: list[dict]) -> dict | str:
        """The event on one line, or a string saying what is wrong with it."""
        try:
            event = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return f"not JSON ({exc})"
        if not isinstance(event, dict):
            return "not a JSON object"
        if event.get("format") != FORMAT:
            return f"format {event.get('format')!r} is not {FORMAT!r}"
        if event.get("checksum") != checksum(event):
            return "its checksum does not match its contents (edited or corrupted)"
        if event.get("seq") != len(before):
            return f"sequence number {event.get('seq')!r} where {len(before)} was expected " \
                   f"(a line was removed or reordered)"
        expected_prev = before[-1]["checksum"] if before else ""
        if event.get("prev") != expected_prev:
            return "it does not follow the line before it (a line was removed or replaced)"
        return event

    # ---- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, timeout: float = 10.0) -> Iterator[Transaction]:
        """Hold the exclusive lock; yields a Transaction with the current events.

        The lock is an ``flock`` on the lock file: the kernel drops it when the process dies,
        so a crash (even kill -9) never leaves a stale lock.
        """
        created = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if created:
            _fsync_dir(self.path.parent.parent)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                        raise PrivacyError(
                            f"The privacy ledger {self.path} is being written by another "
                            f"process (pid {holder or '?'}); wait for its training run to "
                            f"finish, then try again.") from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            yield Transaction(self)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class Transaction:
    """The events as read under the lock, and durable appends after them."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        path = journal.path
        data = path.read_bytes() if path.exists() else b""
        self.events, torn = journal._parse(data)
        if torn:
            self._drop_torn_tail(len(data) - len(torn), torn)
        elif data and not data.endswith(b"\n"):
            self._write(b"\n")  # a whole last event that lost only its newline

    def _drop_torn_tail(self, keep: int, torn: bytes) -> None:
        # Keep the torn bytes beside the ledger (never silently destroyed), then cut them off
        # so the next event starts on a fresh line.
        aside = self.journal.path.with_name(
            f"{self.journal.path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        aside.write_bytes(torn)
        with open(self.journal.path, "r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())

    def append(self, body: dict) -> dict:
        """Write one event durably (returns it with format, seq, prev and checksum)."""
        reserved = {"format", "seq", "prev", "checksum"} & body.keys()
        if reserved:
            raise ValueError(f"event keys {sorted(reserved)} are set by the journal")
        event = dict(body, format=FORMAT, seq=len(self.events),
                     prev=self.events[-1]["checksum"] if self.events else "")
        event["checksum"] = checksum(event)
        self._write(canonical(event) + b"\n")
        self.events.append(event)
        return event

    def _write(self, data: bytes) -> None:
        path = self.journal.path
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new directory entry must survive a crash too
            _fsync_dir(path.parent)
