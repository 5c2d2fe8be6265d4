"""The ids of forgotten records: never trained on again, whatever comes back.

Forgetting removes a memory from the store, so no later run can sample it. The ids are kept
anyway (ids only, never text: an id is a random uuid that says nothing about the words), so
that a memory restored from an old copy of the store, or re-imported under its id, is still
left out of every training set and every plan (``persona.core.train.runner.load_dataset``).

The file is ``<home>/privacy/forgotten.txt``, one id a line, appended and fsync'd before the
memory is deleted: a crash in between leaves an id listed whose memory still exists (it is
then not trained on, which errs on the private side), never the other way round.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from persona.core.errors import PrivacyError

FILE = "forgotten.txt"
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def forgotten_path(privacy_dir: Path) -> Path:
    return Path(privacy_dir) / FILE


def read_forgotten(privacy_dir: Path) -> set[str]:
    """Every id ever forgotten in this home (empty if none)."""
    path = forgotten_path(privacy_dir)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError) as exc:
        raise PrivacyError(f"{path} cannot be read ({exc}). It lists forgotten memories that "
                           f"must never be trained on; restore it from a backup, or fix its "
                           f"permissions.") from exc
    return {line.strip() for line in lines if line.strip()}


def add_forgotten(privacy_dir: Path, ids: Iterable[str]) -> list[str]:
    """Append ``ids`` (those not listed yet) durably; returns the ones added."""
    ids = list(dict.fromkeys(ids))
    for i in ids:
        if not isinstance(i, str) or not _ID.match(i):
            raise PrivacyError(f"{i!r} is not a memory id; nothing was forgotten.")
    known = read_forgotten(privacy_dir)
    new = [i for i in ids if i not in known]
    if not new:
        return []
    path = forgotten_path(privacy_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, "".join(f"{i}\n" for i in new).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return new
