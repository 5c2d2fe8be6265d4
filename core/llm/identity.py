"""Which base model a persona was trained on, as a fingerprint that survives moving homes.

An adapter only makes sense on the base model it was trained on, so a persona bundle
records this identity and import refuses a bundle whose model is not the one this machine
would load. A catalog model is named by its GGUF's SHA-256 (pinned in the catalog and
checked on first use, so nothing is hashed here); a model folder from the
``llm_model`` setting by one SHA-256 over its files' names and contents.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from persona.core.llm.models import validate_model_folder
from persona.core.models.files import llm_file, selected_llm
from persona.core.settings import Settings

_BLOCK = 1024 * 1024


def _file_sha256(path: Path, digest=None):
    h = digest or hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h


@functools.lru_cache(maxsize=8)
def _cached(path: str, kind: str, stamp: tuple) -> str:
    # ``stamp`` (sizes and mtimes) is part of the key so that a changed file is hashed again.
    p = Path(path)
    if kind == "gguf":
        return _file_sha256(p).hexdigest()
    h = hashlib.sha256()
    for f in sorted(x for x in p.iterdir() if x.is_file() and not x.name.startswith(".")):
        h.update(f.name.encode() + b"\0")
        _file_sha256(f, h)
    return h.hexdigest()


def _stamp(path: Path) -> tuple:
    files = [path] if path.is_file() else sorted(path.iterdir())
    return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def base_model_identity(settings: Settings) -> dict[str, str]:
    """``{"kind", "name", "sha256"}`` of the language model ``settings`` would load."""
    if settings.llm_model:
        folder = validate_model_folder(settings.llm_model)
        return {"kind": "folder", "name": folder.name,
                "sha256": _cached(str(folder), "folder", _stamp(folder))}
    spec = selected_llm(settings)
    gguf = llm_file(spec)  # verified against spec.sha256
    # The file's name as before issue 9 (SmolLM2's bundles keep matching); a joined file is
    # named by its hash in the cache, so its catalog name stands in.
    name = gguf.name if len(spec.parts) == 1 else f"{spec.name}.gguf"
    return {"kind": "gguf", "name": name, "sha256": spec.sha256}
