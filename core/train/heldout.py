"""The fixed held-out slice of the person's records, and held-out text from files.

A record is held out iff a salted SHA-256 of its key falls under the held-out fraction. The
hash never changes, so a record is held out in every run or in none: no run trains on what
another run is judged on. Chat turns are held out a whole conversation at a time (the key is
the conversation id): a held-out turn never turns up as context of a trained turn, nor the
other way round. Keep the fraction fixed: raising it later would hold out records that
earlier runs trained on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from persona.core.errors import SettingsError, TextError
from persona.core.memory.ingest import read_text_memories, text_files
from persona.core.memory.schema import Memory

HELDOUT_FRACTION = 0.10
_SALT = b"persona/heldout/v1\x00"  # a new salt would be a new slice: never change it


def check_fraction(fraction: float) -> float:
    """``fraction`` if it is a usable held-out fraction, else a ``SettingsError``."""
    if not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise SettingsError(f"The held-out fraction must be at least 0 and below 1, not "
                            f"{fraction!r}; the default is {HELDOUT_FRACTION}.")
    return float(fraction)


def heldout_key(memory: Memory) -> str:
    """What decides where ``memory`` goes: its conversation for chat turns, else its id."""
    if memory.source == "chat" and memory.conversation_id:
        return f"conversation:{memory.conversation_id}"
    return f"record:{memory.id}"


def hash_unit(key: str) -> float:
    """A stable number in [0, 1) for ``key`` (the same on every machine and run)."""
    digest = hashlib.sha256(_SALT + key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def is_heldout(memory: Memory, fraction: float = HELDOUT_FRACTION) -> bool:
    """Whether ``memory`` belongs to the held-out slice (see the module docstring)."""
    return hash_unit(heldout_key(memory)) < check_fraction(fraction)


def read_heldout_files(paths: Iterable[str | os.PathLike[str]]) -> list[Memory]:
    """The text of ``.txt``/``.md`` files (folders are walked) as person memories, cut into
    chunks exactly as ``persona import`` cuts them; each chunk's id names its file and place.

    For ``persona eval --heldout PATH...``. Unlike an import, nothing is skipped: a missing,
    empty or non-UTF-8 file raises ``TextError`` naming it, so no evaluation silently runs
    on less text than asked for.
    """
    paths = list(paths)
    if not paths:
        raise TextError("No held-out files were given; name .txt or .md files or folders.")
    files, errors = text_files(paths)
    if errors:
        raise TextError(f"{errors[0].path}: {errors[0].error}")
    if not files:
        raise TextError(f"No .txt or .md files found in {', '.join(map(str, paths))}.")
    out: list[Memory] = []
    for path in files:
        for i, memory in enumerate(read_text_memories(path, source="import")):
            memory.id = f"file:{Path(path).resolve()}#{i}"
            out.append(memory)
    return out
