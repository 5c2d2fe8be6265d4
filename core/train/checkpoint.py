"""Crash-safe training checkpoints, the same for both trainers (torch and MLX).

A checkpoint is a folder ``<checkpoint_dir>/step-<NNNNNNNN>/`` holding the trainer's own
files (adapter weights, optimiser state, RNG state: whatever its backend needs) and, written
last, ``manifest.json``: the step, the run it belongs to, the trainer's JSON state and a
SHA-256 of every file. The folder is built under a hidden temporary name and renamed into
place, so a crash (even kill -9) leaves either the previous checkpoint or the new one,
never half of one. Older checkpoints are removed only after the new one is in place.

``run`` identifies the run (backend, σ, q, steps, C, model, data...): resuming a checkpoint
of a different run would train and account a run nobody planned, so it is refused.

The run's folder also holds ``ledger.json`` (``bind_ledger``): where the privacy ledger
stood when the run began, so that a checkpoint is never resumed under a ledger that lost
the run's charge (``core/train/ledger_binding.py`` checks it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from persona.core.errors import ModelError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LEDGER_BINDING = "ledger.json"
FORMAT = 1
_STEP_DIR = re.compile(r"^step-(\d{8})$")
_TMP_PREFIX = ".tmp-step-"


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back by ``load_checkpoint`` (its files already verified)."""

    path: Path
    step: int  # optimiser steps done when it was written
    run: dict  # what identifies the run (compared on load)
    state: dict  # the trainer's JSON state (losses, tokens, accountant, seconds...)
    files: tuple[str, ...] = field(default=())

    def file(self, name: str) -> Path:
        """The path of one of the checkpoint's files."""
        if name not in self.files:
            raise ModelError(f"The checkpoint {self.path} has no file {name!r} (it has "
                             f"{', '.join(self.files) or 'none'}); delete {self.path.parent} "
                             "to start the run over.")
        return self.path / name


def save_checkpoint(checkpoint_dir: Path, *, step: int, run: Mapping, state: Mapping,
                    write_files: Callable[[Path], None]) -> Checkpoint:
    """Write a checkpoint for ``step`` into ``checkpoint_dir`` atomically and return it.

    ``write_files(folder)`` writes the backend's files into ``folder`` (a fresh temporary
    folder); ``run`` and ``state`` must be JSON-serialisable. Earlier checkpoints are
    removed once this one is in place.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, not {step!r}")
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(checkpoint_dir)
    final = checkpoint_dir / f"step-{step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{step:08d}-", dir=checkpoint_dir))
    try:
        write_files(tmp)
        names = sorted(p.name for p in tmp.iterdir())
        bad = [n for n in names if n == MANIFEST or not (tmp / n).is_file()]
        if bad:
            raise ValueError(f"write_files must write plain files other than {MANIFEST}, "
                             f"not {bad}")
        files = {}
        for name in names:
            files[name] = {"sha256": _sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
            _fsync_file(tmp / name)
        manifest = {"format": FORMAT, "step": step, "run": dict(run), "state": dict(state),
                    "files": files}
        data = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=True)
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        if final.exists():  # the same step again (e.g. a stop right after a periodic save)
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(checkpoint_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in _step_dirs(checkpoint_dir):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return Checkpoint(final, step, dict(run), dict(state), tuple(names))


def load_checkpoint(checkpoint_dir: Path | None, *, run: Mapping | None = None
                    ) -> Checkpoint | None:
    """The newest checkpoint in ``checkpoint_dir``, or None when there is none.

    Every file is checked against the manifest's SHA-256. Given ``run``, the checkpoint must
    belong to the same run (every key of ``run`` equal), else ``ModelError`` says which
    value differs. A damaged checkpoint is a ``ModelError`` too, never silently skipped.
    """
    if checkpoint_dir is None or not Path(checkpoint_dir).is_dir():
        return None
    dirs = _step_dirs(Path(checkpoint_dir))
    if not dirs:
        return None
    path = dirs[-1]
    fix = f"delete {path} to start the run over"
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"The checkpoint manifest {path / MANIFEST} cannot be read ({exc}); "
                         f"{fix}.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{path / MANIFEST} is not a checkpoint manifest of format {FORMAT}; "
                         f"{fix}.")
    try:
        step, files = int(manifest["step"]), dict(manifest["files"])
        saved_run, state = dict(manifest["run"]), dict(manifest["state"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path / MANIFEST} lacks {exc}; {fix}.") from exc
    for name, meta in files.items():
        file = path / name
        if not file.is_file() or _sha256(file) != meta.get("sha256"):
            raise ModelError(f"The checkpoint file {file} is missing or damaged (its SHA-256 "
                             f"does not match the manifest); {fix}.")
    if run is not None:
        for key, value in run.items():
            if _jsonable(value) != saved_run.get(key):
                raise ModelError(f"The checkpoint in {path} belongs to another run: its "
                                 f"{key} is {saved_run.get(key)!r}, this run's is {value!r}. "
                                 f"Run again with the same plan to resume it, or {fix}.")
    return Checkpoint(path, step, saved_run, state, tuple(sorted(files)))


def bind_ledger(checkpoint_dir: Path, anchor: Mapping) -> None:
    """Record (atomically) the privacy ledger's anchor (seq, head) the run began under."""
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint_dir / f".{LEDGER_BINDING}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(anchor), sort_keys=True))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, checkpoint_dir / LEDGER_BINDING)
    _fsync_dir(checkpoint_dir)


def ledger_binding(checkpoint_dir: Path) -> dict | None:
    """The anchor written by ``bind_ledger``, or None (a run from before bindings existed).
    An unreadable file is a ``ModelError``: a binding is never silently skipped."""
    path = Path(checkpoint_dir) / LEDGER_BINDING
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{path} cannot be read ({exc}); delete {checkpoint_dir} to start "
                         "the run over.") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a ledger binding; delete {checkpoint_dir} to start "
                         "the run over.")
    return data


def delete_checkpoints(checkpoint_dir: Path | None) -> None:
    """Remove every checkpoint (and leftover temporary folder) in ``checkpoint_dir``."""
    if checkpoint_dir is None or not Path(checkpoint_dir).is_dir():
        return
    checkpoint_dir = Path(checkpoint_dir)
    for path in _step_dirs(checkpoint_dir):
        shutil.rmtree(path, ignore_errors=True)
    _remove_temporaries(checkpoint_dir)
    (checkpoint_dir / LEDGER_BINDING).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        checkpoint_dir.rmdir()  # only if nothing else lives there


def _step_dirs(checkpoint_dir: Path) -> list[Path]:
    """The complete checkpoints, oldest first."""
    found = [(int(m.group(1)), p) for p in checkpoint_dir.iterdir()
             if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def _remove_temporaries(checkpoint_dir: Path) -> None:
    # Left by a save that crashed; no other process writes here (the runner holds a lock).
    for p in checkpoint_dir.glob(f"{_TMP_PREFIX}*"):
        log.info("Removing %s, left by an interrupted checkpoint.", p)
        shutil.rmtree(p, ignore_errors=True)


def _jsonable(value):
    """``value`` as it reads back from JSON (tuples become lists), for comparison."""
    return json.loads(json.dumps(value, allow_nan=True))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once its directory is synced (POSIX); Windows cannot open one.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
