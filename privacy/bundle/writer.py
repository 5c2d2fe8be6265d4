"""Write a bundle: header, then the archive through the encrypting stream, atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from persona.core.errors import BundleError
from persona.privacy.bundle.archive import ArchiveWriter
from persona.privacy.bundle.format import Manifest, header_bytes, new_header_body
from persona.privacy.bundle.kdf import derive_master_key, subkey
from persona.privacy.bundle.stream import EncryptingWriter

MIN_PASSPHRASE = 8


def check_new_passphrase(passphrase: str) -> None:
    """Refuse passphrases too short to protect a bundle against guessing."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BundleError(f"The passphrase has {len(passphrase)} characters; use at least "
                          f"{MIN_PASSPHRASE} (a few unrelated words are best).")


def write_bundle(out: Path, *, passphrase: str, manifest: Manifest,
                 fill: Callable[[ArchiveWriter], None]) -> Path:
    """Write the bundle ``out``: ``fill`` adds the parts to the archive it is given, then
    ``manifest`` (with every part's hash) closes it. The file appears only when complete
    (written beside ``out`` and renamed), readable by its owner only."""
    check_new_passphrase(passphrase)
    out = Path(out)
    body = new_header_body()
    master = derive_master_key(passphrase, body.kdf)
    header = header_bytes(body, master)
    key = subkey(master, purpose=b"payload", salt=bytes.fromhex(body.payload_salt))
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            stream = EncryptingWriter(f, key, header)
            archive = ArchiveWriter(stream)
            fill(archive)
            archive.finish(manifest)
            stream.close()
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
