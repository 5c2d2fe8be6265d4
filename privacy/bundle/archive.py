"""The payload's plaintext: a sequence of entries (folders, files, symlinks), then the manifest.

    entry := u32 length | JSON {"type", "name", "target"?} | for a file: frames
    frame := u32 length | bytes        (a zero-length frame ends the file)

A file is written in frames, so a part whose size is not known in advance (the memory
table, streamed out of LanceDB batch by batch) needs neither a temporary copy nor to fit in
memory. The last entry is the manifest (type "manifest"): the reader checks that the
entries it met are exactly the ones the manifest lists, with the same sizes and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from persona.core.errors import BundleError
from persona.privacy.bundle.format import Manifest, PartEntry

_LEN = struct.Struct(">I")
FRAME = 64 * 1024
MAX_FRAME = 1024 * 1024
MAX_ENTRY_HEADER = 64 * 1024


class ArchiveWriter:
    """Writes entries into ``out`` (the encrypting stream) and collects the manifest's parts."""

    def __init__(self, out) -> None:
        self._out = out
        self.parts: list[PartEntry] = []

    def _entry(self, **fields) -> None:
        raw = json.dumps(fields, sort_keys=True).encode()
        self._out.write(_LEN.pack(len(raw)) + raw)

    def add_dir(self, name: str) -> None:
        self._entry(type="dir", name=name)
        self.parts.append(PartEntry(name=name, kind="dir"))

    def add_symlink(self, name: str, target: str) -> None:
        self._entry(type="symlink", name=name, target=target)
        self.parts.append(PartEntry(name=name, kind="symlink", target=target,
                                    sha256=hashlib.sha256(target.encode()).hexdigest()))

    def add_stream(self, name: str, chunks: Iterable[bytes], *, kind: str = "file") -> None:
        """A file whose bytes come from ``chunks`` (any sizes; written in frames)."""
        self._entry(type=kind, name=name)
        digest, size = hashlib.sha256(), 0
        for chunk in chunks:
            for i in range(0, len(chunk), FRAME):
                piece = chunk[i:i + FRAME]
                self._out.write(_LEN.pack(len(piece)))
                self._out.write(piece)
                digest.update(piece)
                size += len(piece)
        self._out.write(_LEN.pack(0))
        if kind == "file":
            self.parts.append(PartEntry(name=name, kind="file", size=size,
                                        sha256=digest.hexdigest()))

    def add_file(self, name: str, path: Path) -> None:
        def chunks():
            with open(path, "rb") as f:
                while piece := f.read(FRAME):
                    yield piece
        self.add_stream(name, chunks())

    def finish(self, manifest: Manifest) -> None:
        manifest.parts = list(self.parts)
        self.add_stream("MANIFEST", [manifest.model_dump_json().encode()], kind="manifest")


def safe_name(name: object) -> str:
    """``name`` if it is a plain relative '/'-path inside the home, else ``BundleError``."""
    ok = (isinstance(name, str) and name and "\\" not in name and "\0" not in name
          and not name.startswith("/") and posixpath.normpath(name) == name
          and not any(p in ("", ".", "..") for p in name.split("/")))
    if not ok:
        raise BundleError(f"it holds an entry with an unsafe name {name!r} (the payload was "
                          f"altered)")
    return name


class ArchiveReader:
    """Reads entries from ``src`` (the decrypting stream) into the folder ``dest``."""

    def __init__(self, src, dest: Path) -> None:
        self._src = src
        self._dest = Path(dest)
        self._links: set[str] = set()
        self.seen: list[PartEntry] = []

    def _exact(self, n: int) -> bytes:
        data = self._src.read(n)
        if len(data) != n:
            raise BundleError("its payload ends inside an entry (the bundle was cut short)")
        return data

    def _frames(self, sink: BinaryIO | None):
        digest, size = hashlib.sha256(), 0
        while True:
            (n,) = _LEN.unpack(self._exact(_LEN.size))
            if n == 0:
                return size, digest.hexdigest()
            if n > MAX_FRAME:
                raise BundleError(f"it holds a frame of {n} bytes (the payload was altered)")
            piece = self._exact(n)
            digest.update(piece)
            size += n
            if sink is not None:
                sink.write(piece)

    def _target(self, name: str) -> Path:
        if any(name == link or name.startswith(link + "/") for link in self._links):
            raise BundleError(f"it writes {name!r} through a symbolic link (the payload was "
                              f"altered)")
        return self._dest / name

    def read_all(self) -> Manifest:
        """Extract every entry; return the manifest once it matched what was extracted."""
        while True:
            (n,) = _LEN.unpack(self._exact(_LEN.size))
            if not 0 < n <= MAX_ENTRY_HEADER:
                raise BundleError("it holds an entry header of impossible size (the payload "
                                  "was altered)")
            try:
                head = json.loads(self._exact(n))
                kind = head["type"]
            except (ValueError, KeyError, TypeError):
                raise BundleError("it holds an unreadable entry header") from None
            if kind == "manifest":
                return self._manifest()
            name = safe_name(head.get("name"))
            path = self._target(name)
            if kind == "dir":
                path.mkdir(mode=0o700)
                self.seen.append(PartEntry(name=name, kind="dir"))
            elif kind == "symlink":
                target = head.get("target")
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                           str(target)))
                if not isinstance(target, str) or target.startswith("/") or \
                        joined.startswith(".."):
                    raise BundleError(f"it holds a link {name!r} pointing outside the home")
                os.symlink(target, path)
                self._links.add(name)
                self.seen.append(PartEntry(name=name, kind="symlink", target=target,
                                           sha256=hashlib.sha256(target.encode()).hexdigest()))
            elif kind == "file":
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as f:
                    size, sha = self._frames(f)
                self.seen.append(PartEntry(name=name, kind="file", size=size, sha256=sha))
            else:
                raise BundleError(f"it holds an entry of unknown type {kind!r}")

    def _manifest(self) -> Manifest:
        buf = bytearray()

        class _Sink:
            def write(self, piece: bytes) -> None:
                if len(buf) + len(piece) > 64 * MAX_FRAME:
                    raise BundleError("its manifest is impossibly large")
                buf.extend(piece)

        self._frames(_Sink())
        if not self._src.at_end():
            raise BundleError("it has data after its manifest (the payload was altered)")
        try:
            manifest = Manifest.model_validate_json(bytes(buf))
        except ValidationError:
            raise BundleError("its manifest cannot be read") from None
        if manifest.parts != self.seen:
            raise BundleError("its parts do not match its manifest (a part is missing, extra "
                              "or has another hash)")
        return manifest
