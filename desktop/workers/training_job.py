"""A training run in a child process, heard about as Qt signals.

`Train now` starts ``persona train --home H --progress-jsonl`` as a child process in its own
session, never in the app's process: training would hold the GIL for long stretches (the
window would stall), and a run in its own session can outlive the window ("keep training in
the background"). The child writes its JSON lines (core/train/events.py) to a file in the
home's logs folder, which this object tails on a short timer; the same file lets a later
window pick up a run that an earlier one left going (``attach_if_running``).

- ``cancel()`` sends SIGTERM: the run checkpoints and stops between steps. The ledger charged
  it in full when it began (the honest account), and only a finished run that the gate
  keeps (not worse beyond noise: core/train/gate.py) is promoted, so the current adapter is
  untouched.
- ``detach()`` stops listening; the run goes on and finishes by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Signal

from persona.core.filelock import pid_alive
from persona.core.paths import Home

OUT_NAME = "desktop-train.jsonl"  # the child's stdout: one JSON event per line
ERR_NAME = "desktop-train.err"  # its stderr: warnings, and a traceback if it crashes
PID_NAME = "desktop-train.json"  # {"pid", "started"} of the last run the app started

# Runs this process started and then stopped following: kept so that their exit is reaped
# (and seen) if a later window of the same process follows them again.
_detached: dict[int, subprocess.Popen] = {}


@dataclass
class TrainingUpdate:
    """One step of the run (a ``progress`` event)."""

    step: int
    steps: int
    loss: float | None  # None: the step's Poisson batch was empty
    epsilon: float  # ε this run has spent so far (inf: a non-private run)


@dataclass
class TrainingOutcome:
    """How a run ended."""

    outcome: dict | None = None  # the ``done`` event: `persona train --json`'s fields
    error: str | None = None  # what went wrong and what to do
    cancelled: bool = False  # the person pressed Cancel (or chose to stop on closing)
    exit_code: int | None = None
    log: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return bool(self.outcome and self.outcome.get("stopped"))


def _number(x) -> float:
    if x is None:
        return float("nan")
    return float("inf") if x == "inf" else float(x)


class TrainingJob(QObject):
    """One training run at a time; see the module docstring."""

    started = Signal(int)  # pid
    progress = Signal(object)  # TrainingUpdate
    message = Signal(str)  # a log line of the run
    finished = Signal(object)  # TrainingOutcome

    POLL_MS = 200

    def __init__(self, home: Home, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.home = home
        self.pid: int | None = None
        self.last: TrainingUpdate | None = None
        self._proc: subprocess.Popen | None = None
        self._out = None  # the open event file being tailed
        self._buffer = b""
        self._result = TrainingOutcome()
        self._timer = QTimer(self, interval=self.POLL_MS, timeout=self._poll)

    @property
    def logs(self) -> Path:
        return self.home.logs_dir

    @property
    def running(self) -> bool:
        """True while a run this window started (or attached to) is going."""
        return self.pid is not None

    @property
    def cancelling(self) -> bool:
        """True between Cancel and the run's end."""
        return self.running and self._result.cancelled

    # ------------------------------------------------------------------ starting
    def command(self, *extra: str) -> list[str]:
        """The child's command line: `persona train` at the lowest CPU priority where `nice`
        exists, so the window (and the person's other work) stays responsive; on an idle
        machine the run still gets every core."""
        cmd = [sys.executable, "-m", "persona.core.cli", "train", "--home", str(self.home.root),
               "--progress-jsonl", *extra]
        nice = shutil.which("nice") if os.name == "posix" else None
        return [nice, "-n", "19", *cmd] if nice else cmd

    def start(self, *extra: str) -> int:
        """Start a run (``extra``: more `persona train` arguments); returns its pid."""
        if self.running:
            raise RuntimeError("a training run is already going")
        self.logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        out, err = self.logs / OUT_NAME, self.logs / ERR_NAME
        with _private(out) as stdout, _private(err) as stderr:
            kwargs = ({"start_new_session": True} if os.name == "posix" else
                      {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP})
            self._proc = subprocess.Popen(self.command(*extra), stdin=subprocess.DEVNULL,
                                          stdout=stdout, stderr=stderr, **kwargs)
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        with _private(self.logs / PID_NAME) as f:
            f.write(json.dumps({"pid": self._proc.pid, "started": started}).encode())
        self._listen(self._proc.pid, out)
        return self._proc.pid

    def attach_if_running(self) -> bool:
        """Follow a run that an earlier window started and left going; True if there is one."""
        if self.running:
            return True
        try:
            info = json.loads((self.logs / PID_NAME).read_text(encoding="utf-8"))
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not pid_alive(pid) or not _is_training(pid):
            return False
        self._proc = _detached.pop(pid, None)
        self._listen(pid, self.logs / OUT_NAME)
        return True

    def _listen(self, pid: int, out: Path) -> None:
        self.pid, self.last = pid, None
        self._result, self._buffer = TrainingOutcome(), b""
        try:
            self._out = open(out, "rb")  # noqa: SIM115 (kept open while the run goes)
        except FileNotFoundError:  # its progress file was deleted: follow the run by its pid
            self._out = None
        self._timer.start()
        self.started.emit(pid)

    # ------------------------------------------------------------------ stopping
    def cancel(self, *, wait: bool = False, timeout: float = 60.0) -> None:
        """Ask the run to stop (SIGTERM: it checkpoints and stops between steps). With
        ``wait``, return once it has ended (at most ``timeout`` seconds)."""
        if not self.running:
            return
        self._result.cancelled = True
        with contextlib.suppress(ProcessLookupError):  # it has just ended by itself
            os.kill(self.pid, signal.SIGTERM)
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            # Stopping takes a step and a checkpoint; the window keeps painting meanwhile.
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents,
                                           50)
            self._poll()
            time.sleep(0.02)

    def detach(self) -> None:
        """Stop listening; the run goes on in its own session and finishes by itself."""
        self._timer.stop()
        self._close()
        if self._proc is not None:
            _detached[self._proc.pid] = self._proc
        self._proc = None
        self.pid = None

    # ------------------------------------------------------------------ tailing
    def _poll(self) -> None:
        ended = not self._alive()
        self._read()  # after the liveness check, so nothing written before the end is missed
        if ended:
            self._finish()

    def _alive(self) -> bool:
        if self._proc is not None:
            code = self._proc.poll()
            if code is not None:
                self._result.exit_code = code
            return code is None
        return self.pid is not None and pid_alive(self.pid)

    def _read(self) -> None:
        if self._out is None:
            return
        chunk = self._out.read(1 << 16)
        if not chunk:
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._handle(line)

    def _handle(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return  # not ours (nothing else should write there); never fatal
        kind = event.pop("event", None) if isinstance(event, dict) else None
        if kind == "progress":
            self.last = TrainingUpdate(step=int(event["step"]), steps=int(event["steps"]),
                                       loss=None if event.get("loss") is None else
                                       float(event["loss"]), epsilon=_number(event["epsilon"]))
            self.progress.emit(self.last)
        elif kind == "log":
            self._result.log.append(str(event.get("message", "")))
            self.message.emit(self._result.log[-1])
        elif kind == "done":
            self._result.outcome = event
        elif kind == "error":
            self._result.error = str(event.get("message", "training failed"))

    def _finish(self) -> None:
        self._timer.stop()
        if self._buffer.strip():
            self._handle(self._buffer)
        self._close()
        result = self._result
        if result.outcome is None and result.error is None and not result.cancelled:
            result.error = ("The training run ended without a result"
                            + (f" (exit status {result.exit_code})"
                               if result.exit_code is not None else "")
                            + f": {self._last_stderr_line()}. Details are in "
                            f"{self.logs / ERR_NAME}.")
        self._proc, self.pid = None, None
        self.finished.emit(result)

    def _last_stderr_line(self) -> str:
        try:
            with open(self.logs / ERR_NAME, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "no message"
        return next((x.strip() for x in reversed(lines) if x.strip()), "no message")

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _is_training(pid: int) -> bool:
    """False when ``pid`` is known to be some other program (the number was reused)."""
    try:
        return b"train" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: trust the pid


def _private(path: Path):
    """``path`` opened for writing, truncated, readable by the person only (0600)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
