"""Read a bundle into a folder, verifying everything on the way.

The folder should be a fresh temporary one: what lands there is trusted only once
``read_bundle`` returns (every chunk authenticated, the final one included, and the parts
matched the manifest). The caller moves it into place then, or deletes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from persona.core.errors import BundleError
from persona.privacy.bundle.archive import ArchiveReader
from persona.privacy.bundle.format import FORMAT_VERSION, Manifest, read_header, verify_header
from persona.privacy.bundle.kdf import KdfParams, derive_master_key, subkey
from persona.privacy.bundle.stream import DecryptingReader

Unlock = Callable[[KdfParams], bytes]  # KDF parameters (already bounds-checked) -> master key
Progress = Callable[[int, int], None]  # (bytes read, bundle size)


def read_bundle(src: Path, dest: Path, *, passphrase: str,
                progress: Progress | None = None) -> Manifest:
    """Decrypt and verify the bundle ``src`` into the empty folder ``dest``; its manifest."""
    return read_bundle_unlocked(src, dest, unlock=lambda p: derive_master_key(passphrase, p),
                                progress=progress)


def read_bundle_unlocked(src: Path, dest: Path, *, unlock: Unlock,
                         progress: Progress | None = None) -> Manifest:
    """``read_bundle`` with the passphrase step supplied by ``unlock``.

    Not reachable from the CLI: the tests pass a key derived once so that a thousand damaged
    bundles need not run Argon2id a thousand times. The header's KDF bounds are still
    checked before ``unlock`` is called, and the header MAC after it.
    """
    src = Path(src)
    try:
        total = src.stat().st_size
        f = open(src, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise BundleError(f"it cannot be read ({exc.strerror or exc})") from None
    with f:
        body, signed, mac = read_header(f)
        master = unlock(body.kdf)
        verify_header(signed, mac, master)
        header = signed + mac
        key = subkey(master, purpose=b"payload", salt=bytes.fromhex(body.payload_salt))
        done = [len(header)]

        def on_chunk(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress(done[0], total)

        reader = ArchiveReader(DecryptingReader(f, key, header, on_chunk), Path(dest))
        try:
            manifest = reader.read_all()
        except OSError as exc:
            raise BundleError(f"a part could not be written ({exc}); if the disk is full, "
                              f"free some space") from None
    if manifest.format_version != FORMAT_VERSION:
        raise BundleError(f"its manifest names bundle format {manifest.format_version}, "
                          f"not {FORMAT_VERSION}")
    return manifest
