"""The imported models: a small JSON file in the per-user cache beside their GGUF files.

It lives with the files it describes (``cache.models_cache()/registry.json``), so clearing
the cache forgets both together. Written atomically under a lock.
"""

from __future__ import annotations

import json

from persona.core.atomic import atomic_write_text
from persona.core.filelock import FileLock
from persona.core.models import cache
from persona.core.models.catalog import ModelSpec


def registry_file():
    return cache.models_cache() / "registry.json"


def registry_lock() -> FileLock:
    return FileLock(cache.private_dir(cache.models_cache() / "locks") / "registry.lock",
                    timeout=None)


def imported_models() -> dict[str, ModelSpec]:
    try:
        data = json.loads(registry_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for name, entry in (data.get("models") or {}).items():
        try:
            out[name] = ModelSpec.from_dict(entry)
        except (TypeError, ValueError):
            continue  # an entry from a newer Persona; ignore rather than break the catalog
    return out


def register(spec: ModelSpec) -> None:
    """Add ``spec`` (call with ``registry_lock()`` held)."""
    models = {n: m.to_dict() for n, m in imported_models().items()}
    models[spec.name] = spec.to_dict()
    cache.private_dir(cache.models_cache())
    atomic_write_text(registry_file(), json.dumps({"models": models}, indent=2) + "\n")
