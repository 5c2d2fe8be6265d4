"""The STREAM construction: the payload in fixed-size ChaCha20-Poly1305 chunks.

As in age (and libsodium's secretstream), each chunk's nonce is an 11-byte big-endian
counter followed by a final-chunk flag (1 on the last chunk, else 0), under a payload key
that is unique to the bundle (HKDF from the master key and a random 32-byte salt in the
header). Every chunk also carries the SHA-256 of the whole header as associated data. So a
chunk that is altered, moved, repeated, dropped, taken from another bundle, or stands last
without being the final one fails to decrypt, and a bundle cut at a chunk boundary has no
final chunk. Memory use is one chunk, whatever the size of the bundle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from persona.core.errors import BundleError
from persona.privacy.bundle.format import CHUNK_SIZE

TAG_BYTES = 16
MAX_COUNTER = 2 ** 88 - 1


def _nonce(counter: int, *, final: bool) -> bytes:
    if counter > MAX_COUNTER:
        raise BundleError("the bundle is too large for its chunk counter")
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """A write-only file: what is written goes out in encrypted chunks; ``close()`` writes
    the final chunk (call it exactly once, or the bundle is unreadable, as intended)."""

    def __init__(self, out: BinaryIO, key: bytes, header: bytes) -> None:
        self._out = out
        self._aead = ChaCha20Poly1305(key)
        self._aad = hashlib.sha256(header).digest()
        self._buf = bytearray()
        self._counter = 0
        self.closed = False

    def write(self, data) -> int:
        self._buf += data
        # Keep at least one byte back: only close() knows which chunk is the last.
        while len(self._buf) > CHUNK_SIZE:
            self._emit(bytes(self._buf[:CHUNK_SIZE]), final=False)
            del self._buf[:CHUNK_SIZE]
        return len(data)

    def _emit(self, plain: bytes, *, final: bool) -> None:
        nonce = _nonce(self._counter, final=final)
        self._out.write(self._aead.encrypt(nonce, plain, self._aad))
        self._counter += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buf), final=True)
            self._buf.clear()
            self.closed = True


class DecryptingReader:
    """A read-only file over the decrypted payload. Every byte it returns came from a chunk
    that authenticated; the end of the payload is reported only after the final chunk
    authenticated (``at_end``)."""

    def __init__(self, src: BinaryIO, key: bytes, header: bytes,
                 on_chunk: Callable[[int], None] | None = None) -> None:
        self._src = src
        self._aead = ChaCha20Poly1305(key)
        self._aad = hashlib.sha256(header).digest()
        self._buf = b""
        self._pos = 0
        self._counter = 0
        self._done = False
        self._on_chunk = on_chunk
        self._pending = src.read(CHUNK_SIZE + TAG_BYTES)

    def _next_chunk(self) -> None:
        sealed = self._pending
        self._pending = self._src.read(CHUNK_SIZE + TAG_BYTES)
        final = not self._pending  # nothing follows: this must be the final chunk
        if len(sealed) < TAG_BYTES:
            raise BundleError(f"it ends before chunk {self._counter} is complete (the file "
                              f"is truncated)")
        try:
            plain = self._aead.decrypt(_nonce(self._counter, final=final), sealed, self._aad)
        except InvalidTag:
            where = "the last chunk is not the final one" if final else "it was altered"
            raise BundleError(f"chunk {self._counter} of its encrypted payload does not "
                              f"authenticate ({where}): the file is damaged, truncated or "
                              f"was changed") from None
        if final and not plain and self._counter > 0:
            raise BundleError("it ends with an empty final chunk (the file was altered)")
        self._counter += 1
        self._buf, self._pos = plain, 0
        self._done = final
        if self._on_chunk is not None:
            self._on_chunk(len(sealed))

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the authenticated end of the payload."""
        parts = []
        while n > 0:
            if self._pos == len(self._buf):
                if self._done:
                    break
                self._next_chunk()
                continue
            piece = self._buf[self._pos:self._pos + n]
            self._pos += len(piece)
            n -= len(piece)
            parts.append(piece)
        return b"".join(parts)

    def at_end(self) -> bool:
        """True when the final chunk authenticated and all of it was read."""
        if self._pos == len(self._buf) and not self._done:
            self._next_chunk()
            return self.at_end()
        return self._done and self._pos == len(self._buf)
