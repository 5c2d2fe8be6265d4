"""``persona models import FILE.gguf``: copy a chat GGUF into the cache and register it.

Everything is checked before anything changes: the header is read and judged first
(``gguf_file.check_chat_model``), the copy is hashed while it is written to a temporary
file, and only a file that passed (and matched ``--sha256``, if given) is renamed into the
cache and added to the registry. A failure leaves the cache and the registry as they were.

Copying and hashing a 1 GB file takes a while: ``progress(done, total)`` hears of the bytes
copied (the CLI draws a bar, the app a progress bar) and a set ``cancel`` event stops the copy
between blocks with ``CopyCancelled`` (a ModelError), leaving everything as it was.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from persona.core.errors import ModelError
from persona.core.models import cache
from persona.core.models.catalog import BUILTIN, ModelSpec
from persona.core.models.gguf_file import check_chat_model, read_info
from persona.core.models.registry import imported_models, register, registry_lock

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def default_name(info_name: str, path: Path) -> str:
    """A catalog name from the GGUF's general.name (else the file name): lower case,
    words joined by '-'."""
    raw = info_name or path.stem
    return re.sub(r"[^a-z0-9._]+", "-", raw.lower()).strip("-._")[:64] or "imported"


def check_name(name: str, sha256: str | None = None) -> None:
    """A usable new name; with ``sha256``, also not taken by another imported file (the same
    file imported again keeps its name)."""
    if not _NAME.match(name):
        raise ModelError(f"{name!r} cannot name a model: use lower-case letters, digits, "
                         "'.', '_' or '-' (up to 64), e.g. --name my-model.")
    if name in BUILTIN:
        raise ModelError(f"{name!r} is a built-in model; choose another --name.")
    taken = imported_models().get(name) if sha256 else None
    if taken is not None and taken.sha256 != sha256:
        raise ModelError(f"{name!r} already names another imported model ({taken.imported_from});"
                         f" choose another --name.")


def import_gguf(path: str | os.PathLike[str], name: str | None = None,
                expected_sha256: str | None = None, *,
                progress: cache.ByteProgress | None = None,
                cancel: threading.Event | None = None) -> ModelSpec:
    """Import the GGUF at ``path`` as ``name``; returns its catalog entry (see the module
    docstring for ``progress`` and ``cancel``)."""
    src = Path(path).expanduser().resolve()
    if not src.is_file():
        raise ModelError(f"{src} is not a file; give the path of a .gguf model file.")
    if expected_sha256 is not None:
        expected_sha256 = expected_sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", expected_sha256):
            raise ModelError(f"--sha256 {expected_sha256!r} is not a sha256 (64 hex digits).")
    info = read_info(src)
    check_chat_model(info, src)
    name = name or default_name(info.name, src)
    check_name(name)
    files = cache.private_dir(cache.models_cache() / "files")
    with registry_lock():
        tmp, got = cache.copy_hashing([src], files, src.name, on_bytes=progress,
                                      cancel=cancel)
        try:
            if expected_sha256 is not None and got != expected_sha256:
                raise ModelError(f"{src} has sha256 {got}, not the expected {expected_sha256}; "
                                 "nothing was imported. Check that it is the file you meant.")
            check_name(name, got)
            spec = ModelSpec(
                name=name, role="llm", title=f"{info.name} ({info.architecture}, GGUF)",
                params=info.params, size=tmp.stat().st_size,
                licence=str(info.licence or "unknown (not in the file)"), sha256=got,
                kv_bytes_per_token=info.kv_bytes_per_token, imported_from=str(src),
                file_name=f"{got}.gguf")
            dest = cache.imported_file(spec)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        cache.record_verified(dest, got)
        register(spec)
    return spec
