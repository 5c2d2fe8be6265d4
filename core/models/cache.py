"""The per-user model cache: joined and imported model files, converted folders, and the
record of which files have been checked against their sha256.

It lives in ``platformdirs.user_cache_dir("persona")`` (``PERSONA_CACHE`` overrides it, for
tests), outside every home: one copy of each model, keyed by its sha256, serves every
person's home on the machine, and a home holds only the person's data.

    models/files/<sha256>.gguf      a joined or imported GGUF
    models/whisper/<sha256>/        a joined Whisper folder (keyed by model.bin's hash)
    models/hf/<sha256>/             the torch float32 conversion of a GGUF (core/llm/models.py)
    models/verified/<sha256>.json   files found to have that hash: path -> [size, mtime_ns]
    models/locks/<sha256>.lock      held while a file is joined or converted
    models/registry.json            imported models (core/models/registry.py)

Hashing a 400 MB file takes seconds, so a file is hashed once: the stamp records its size
and modification time, and a later start that finds both unchanged trusts the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import platformdirs

from persona.core.atomic import atomic_write_text
from persona.core.errors import ModelError
from persona.core.filelock import FileLock

_BLOCK = 4 * 1024 * 1024
Progress = Callable[[str], None]
ByteProgress = Callable[[int, int], None]  # (bytes done, bytes in all)


class CopyCancelled(ModelError):
    """A copy stopped because its cancel event was set; nothing it wrote was kept."""


def cache_root() -> Path:
    env = os.environ.get("PERSONA_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("persona", appauthor=False))


def models_cache() -> Path:
    return cache_root() / "models"


def private_dir(path: Path) -> Path:
    """``path`` created (with its parents) as a 0700 folder."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def gguf_path(sha256: str) -> Path:
    return models_cache() / "files" / f"{sha256}.gguf"


def whisper_dir(sha256: str) -> Path:
    return models_cache() / "whisper" / sha256


def hf_dir(sha256: str) -> Path:
    """Where the float32 Hugging Face conversion of the GGUF with this hash lives."""
    return models_cache() / "hf" / sha256


def imported_file(spec) -> Path:
    return models_cache() / "files" / (spec.file_name or f"{spec.sha256}.gguf")


def model_lock(sha256: str) -> FileLock:
    """Held while the file or folder keyed by ``sha256`` is made (waits for ever)."""
    return FileLock(private_dir(models_cache() / "locks") / f"{sha256}.lock", timeout=None)


# ---- sha256, checked once --------------------------------------------------------------


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def _stamp_file(sha256: str) -> Path:
    return models_cache() / "verified" / f"{sha256}.json"


def _read_stamps(sha256: str) -> dict:
    try:
        data = json.loads(_stamp_file(sha256).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _signature(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def is_verified(path: Path, sha256: str) -> bool:
    """True when ``path`` was found to hash to ``sha256`` and is unchanged since."""
    try:
        return _read_stamps(sha256).get(str(Path(path).resolve())) == _signature(path)
    except OSError:
        return False


def record_verified(path: Path, sha256: str) -> None:
    """Remember that ``path`` (as it is now) hashes to ``sha256``. A cache that cannot be
    written only costs a hash on the next start, so that failure is not an error."""
    stamps = _read_stamps(sha256)
    stamps[str(Path(path).resolve())] = _signature(path)
    try:
        private_dir(_stamp_file(sha256).parent)
        atomic_write_text(_stamp_file(sha256), json.dumps(stamps, indent=1, sort_keys=True))
    except OSError:
        pass


def verify(path: Path, sha256: str, fix: str, progress: Progress | None = None) -> Path:
    """Check ``path`` against ``sha256`` on first use (then trust the stamp)."""
    if is_verified(path, sha256):
        return path
    if progress:
        progress(f"Checking {path.name} against its sha256 (once)…")
    got = sha256_of(path)
    if got != sha256:
        raise ModelError(f"{path} has sha256 {got}, not the pinned {sha256}: the file is "
                         f"damaged or not the expected model; {fix}.")
    record_verified(path, sha256)
    return path


# ---- joining parts ---------------------------------------------------------------------


def copy_hashing(sources: list[Path], dest_dir: Path, prefix: str, *,
                 on_bytes: ByteProgress | None = None,
                 cancel: threading.Event | None = None) -> tuple[Path, str]:
    """Concatenate ``sources`` into a new temporary file in ``dest_dir`` (synced to disk);
    returns it and its sha256. The caller renames it into place or deletes it.

    ``on_bytes(done, total)`` hears of every block (a 1 GB file takes a while); a set
    ``cancel`` stops between blocks with ``CopyCancelled``, the temporary file removed."""
    private_dir(dest_dir)
    total = sum(Path(s).stat().st_size for s in sources)
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{prefix}.", suffix=".tmp")
    h = hashlib.sha256()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    while block := f.read(_BLOCK):
                        if cancel is not None and cancel.is_set():
                            raise CopyCancelled(f"Copying {Path(src).name} was cancelled; "
                                                "nothing was kept.")
                        h.update(block)
                        out.write(block)
                        done += len(block)
                        if on_bytes is not None:
                            on_bytes(done, total)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), h.hexdigest()


def join_parts(parts: list[Path], dest: Path, sha256: str, fix: str,
               progress: Progress | None = None) -> Path:
    """``dest`` = ``parts`` joined in order, made once: atomically (temporary file, fsync,
    rename), checked against ``sha256`` before it is renamed into place, and under the
    model's lock so that two processes never join the same file at once."""
    with model_lock(sha256):
        if dest.is_file() and is_verified(dest, sha256):
            return dest  # another process joined it while we waited
        if progress:
            progress(f"Joining {len(parts)} parts into {dest.name} (once)…")
        tmp, got = copy_hashing(parts, dest.parent, dest.name)
        if got != sha256:
            tmp.unlink(missing_ok=True)
            raise ModelError(f"The parts {parts[0].parent} ... joined to sha256 {got}, not the "
                             f"pinned {sha256}; {fix}.")
        os.replace(tmp, dest)
        record_verified(dest, sha256)
        return dest
