"""Which language-model folder to load, and which backend runs it.

The person may point ``settings.llm_model`` at any local Hugging Face or MLX folder. Without
it, the catalog model the ``llm`` setting names (core/models/catalog.py) is used: llama.cpp
runs its GGUF as it is (``model_gguf``); torch and MLX need it converted once to a float32
folder, kept in the per-user cache keyed by the GGUF's sha256
(``core.models.cache.hf_dir(sha256) / "model"``), so every home on the machine shares one
conversion and a new home converts nothing. (Before issue 9 each home had its own copy in
``HOME/models``; that old folder is no longer read, and is left alone:
``persona models list`` says how big it is and that it may be deleted.)
The conversion is crash-safe: it is built in a hidden temporary folder that is renamed into
place only when complete (a half-written folder is never used), and a lock file stops two
processes from converting at the same time.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from persona.core.errors import ModelError
from persona.core.llm.convert import SOURCE_FILE, Progress, convert_gguf, source_info
from persona.core.models.cache import hf_dir
from persona.core.models.files import llm_file, selected_llm
from persona.core.paths import Home
from persona.core.settings import Settings

log = logging.getLogger(__name__)

CONVERTED_NAME = "model"  # the finished folder inside hf_dir(sha256)
BACKENDS = ("torch", "mlx", "llamacpp")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def default_backend_name(settings: Settings | None = None) -> str:
    """``settings.llm_backend`` unless it is "auto"; then "mlx" on Apple Silicon, else
    "llamacpp" (it runs the quantized GGUF directly, 4-7x faster than torch float32 here)."""
    choice = settings.llm_backend if settings is not None else "auto"
    if choice != "auto":
        return choice
    apple_silicon = sys.platform == "darwin" and platform.machine() == "arm64"
    return "mlx" if apple_silicon else "llamacpp"


def validate_model_folder(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is a local HF/MLX model folder (config, tokenizer, weights)."""
    folder = Path(path).expanduser()
    fix = "fix the 'llm_model' setting or remove it to use the bundled model"
    if not folder.is_dir():
        raise ModelError(f"The language model folder {folder} does not exist; {fix}.")
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder} has no config.json, so it is not a Hugging Face or MLX "
                         f"model folder; {fix}.")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelError(f"{folder} has no tokenizer (one of {', '.join(TOKENIZER_FILES)}); "
                         f"{fix}.")
    if not any(folder.glob("*.safetensors")) and not (folder / "pytorch_model.bin").is_file():
        raise ModelError(f"{folder} has no weights (*.safetensors or pytorch_model.bin); {fix}.")
    return folder


def converted_folder(models_dir: Path, gguf: Path | None = None) -> Path | None:
    """The finished conversion in ``models_dir``, or None.

    A folder counts only when it carries the source record written last by the converter
    (and, given ``gguf``, was made from that same file). Temporary folders never count.
    """
    folder = models_dir / CONVERTED_NAME
    record = folder / SOURCE_FILE
    if not record.is_file():
        return None
    try:
        made_from = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if gguf is not None and made_from != source_info(gguf):
        return None
    return folder


def ensure_model_folder(settings: Settings, home: Home,
                        progress: Progress | None = None) -> Path:
    """The folder of the language model to load: the setting's, else the catalog model's,
    converted on first use on this machine (about a minute for SmolLM2) into the cache."""
    if settings.llm_model:
        return validate_model_folder(settings.llm_model)
    spec = selected_llm(settings)
    models_dir = hf_dir(spec.sha256)
    try:
        gguf = llm_file(spec, progress)
        folder = converted_folder(models_dir, gguf)
        if folder is not None:
            _clean_leftovers_if_idle(models_dir)
            return folder
        with conversion_lock(models_dir, progress):
            # Another process may have finished the conversion while we waited for the lock.
            folder = converted_folder(models_dir, gguf)
            if folder is not None:
                return folder
            _remove_leftovers(models_dir)
            return _convert_into_place(gguf, models_dir, progress)
    except OSError as exc:  # disk full, read-only or permission denied
        need = spec.params * 4 / 1e9  # float32
        raise ModelError(f"Cannot write the converted language model into {models_dir} "
                         f"({exc}); free about {need:.1f} GB there or fix its permissions "
                         f"(PERSONA_CACHE moves the cache).") from exc


def _convert_into_place(gguf: Path, models_dir: Path, progress: Progress | None) -> Path:
    final = models_dir / CONVERTED_NAME
    tmp = Path(tempfile.mkdtemp(prefix=f".{CONVERTED_NAME}.tmp-", dir=models_dir))
    try:
        convert_gguf(gguf, tmp, progress)
        if final.exists():  # an outdated or unfinished conversion: move it aside first
            old = Path(tempfile.mkdtemp(prefix=f".{CONVERTED_NAME}.old-", dir=models_dir))
            os.replace(final, old / CONVERTED_NAME)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def leftovers(models_dir: Path) -> list[Path]:
    """Temporary folders that an interrupted conversion left behind."""
    return sorted(p for p in models_dir.glob(f".{CONVERTED_NAME}.*-*") if p.is_dir())


def _remove_leftovers(models_dir: Path) -> None:
    for p in leftovers(models_dir):
        log.info("Removing %s, left by an interrupted conversion.", p)
        shutil.rmtree(p, ignore_errors=True)


def _clean_leftovers_if_idle(models_dir: Path) -> None:
    # Only when nobody holds the lock: a live conversion's temp folder must not vanish.
    if not leftovers(models_dir):
        return
    with conversion_lock(models_dir, blocking=False) as got:
        if got:
            _remove_leftovers(models_dir)


@contextmanager
def conversion_lock(models_dir: Path, progress: Progress | None = None, *,
                    blocking: bool = True) -> Iterator[bool]:
    """Hold the conversion lock of ``models_dir``; yields False if ``blocking`` is False and
    another process holds it. The OS drops the lock when its process dies (no stale locks)."""
    models_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = models_dir / f".{CONVERTED_NAME}.lock"
    with open(path, "a+b") as f:
        got = _try_lock(f)
        if not got and blocking:
            (progress or log.info)("Another Persona process is converting the language model; "
                                   "waiting for it to finish…")
            _lock(f)
            got = True
        try:
            yield got
        finally:
            if got:
                _unlock(f)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(f) -> bool:
        f.seek(0)  # msvcrt locks bytes from the current position
        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _lock(f) -> None:
        while not _try_lock(f):  # LK_LOCK gives up after 10 s; poll instead
            time.sleep(0.5)

    def _unlock(f) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(f) -> bool:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _lock(f) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)

    def _unlock(f) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def model_gguf(settings: Settings, home: Home, progress: Progress | None = None) -> Path:
    """The GGUF file the llama.cpp backend runs (memory-mapped, never converted to float):
    the catalog model the ``llm`` setting names, joined and checked on first use, or its
    faster runtime copy when the catalog names one and ``llm_requantize`` is on
    (core/models/requantize.py)."""
    spec = selected_llm(settings)
    path = llm_file(spec, progress)
    if settings.llm_requantize and spec.runtime_quant:
        from persona.core.models.requantize import runtime_copy

        return runtime_copy(path, spec.sha256, spec.runtime_quant, progress)
    return path
