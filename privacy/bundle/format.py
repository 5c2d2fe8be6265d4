"""The bundle's header (in the clear, authenticated) and manifest (inside the encryption).

    magic "PERSONA BUNDLE\\n" | version u16 | body length u32 | body (JSON) | HMAC-SHA256

The body records the KDF parameters and the payload's random salt. The MAC is keyed by a
key derived from the passphrase, so a wrong passphrase and an edited header look alike: both
fail here, before any payload is read. docs/bundle-format.md describes the whole format.
"""

from __future__ import annotations

import json
import os
import struct
from typing import BinaryIO, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from persona.core.errors import BundleError
from persona.privacy.bundle.kdf import KdfParams, check_bounds, subkey

MAGIC = b"PERSONA BUNDLE\n"
FORMAT_VERSION = 1
CHUNK_SIZE = 64 * 1024  # plaintext bytes per chunk (the last one may be shorter)
MAC_BYTES = 32
PAYLOAD_SALT_BYTES = 32
_FIXED = struct.Struct(">HI")  # version, body length
MAX_BODY = 4096


class HeaderBody(BaseModel):
    """What the header says, apart from magic, version and MAC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cipher: Literal["chacha20-poly1305"] = "chacha20-poly1305"
    chunk_size: Literal[CHUNK_SIZE] = CHUNK_SIZE
    kdf: KdfParams
    payload_salt: str = Field(min_length=2 * PAYLOAD_SALT_BYTES,
                              max_length=2 * PAYLOAD_SALT_BYTES)  # hex


class PartEntry(BaseModel):
    """One part of the bundle as the manifest lists it."""

    model_config = ConfigDict(extra="forbid")

    name: str  # relative path inside the home, '/'-separated
    kind: Literal["dir", "file", "symlink"]
    size: int = 0
    sha256: str | None = None  # of the bytes (a symlink: of its target)
    target: str | None = None  # a symlink's target (relative)


class Manifest(BaseModel):
    """The last entry of the payload: versions, the base model, and every part's hash."""

    model_config = ConfigDict(extra="forbid")

    format_version: int
    app_version: str
    created: str  # ISO 8601, UTC
    base_model: dict[str, str]  # see core/llm/identity.py
    with_audio: bool = False
    parts: list[PartEntry] = Field(default_factory=list)


def new_header_body() -> HeaderBody:
    return HeaderBody(kdf=KdfParams.fresh(), payload_salt=os.urandom(PAYLOAD_SALT_BYTES).hex())


def _header_key(master: bytes) -> bytes:
    return subkey(master, purpose=b"header")


def _mac(master: bytes, signed: bytes) -> hmac.HMAC:
    h = hmac.HMAC(_header_key(master), hashes.SHA256())
    h.update(signed)
    return h


def header_bytes(body: HeaderBody, master: bytes) -> bytes:
    """The complete header for ``body``: magic, version, length, body, MAC."""
    raw = json.dumps(body.model_dump(), sort_keys=True, separators=(",", ":")).encode()
    signed = MAGIC + _FIXED.pack(FORMAT_VERSION, len(raw)) + raw
    return signed + _mac(master, signed).finalize()


def read_header(f: BinaryIO) -> tuple[HeaderBody, bytes, bytes]:
    """Parse the header at the start of ``f``: (body, the signed bytes, the MAC).

    Checks magic, version, size and the KDF bounds; the MAC is checked by ``verify_header``
    once the key is known.
    """
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise BundleError("it is not a Persona bundle (its first bytes are not the bundle's "
                          "magic); choose a .persona file made by `persona export`")
    fixed = f.read(_FIXED.size)
    if len(fixed) != _FIXED.size:
        raise BundleError("it ends inside its header (the file is truncated)")
    version, length = _FIXED.unpack(fixed)
    if version > FORMAT_VERSION:
        raise BundleError(f"it was made by a newer Persona (bundle format {version}; this "
                          f"Persona reads format {FORMAT_VERSION}); update Persona and "
                          f"import it again")
    if version != FORMAT_VERSION:
        raise BundleError(f"its header names bundle format {version}, which never existed "
                          f"(the header was altered)")
    if not 0 < length <= MAX_BODY:
        raise BundleError(f"its header claims a body of {length} bytes (the header was "
                          f"altered)")
    raw = f.read(length)
    mac = f.read(MAC_BYTES)
    if len(raw) != length or len(mac) != MAC_BYTES:
        raise BundleError("it ends inside its header (the file is truncated)")
    try:
        body = HeaderBody.model_validate_json(raw)
        bytes.fromhex(body.payload_salt)
    except (ValidationError, ValueError):
        raise BundleError("its header cannot be read (the header was altered)") from None
    check_bounds(body.kdf)
    return body, magic + fixed + raw, mac


def verify_header(signed: bytes, mac: bytes, master: bytes) -> None:
    """Raise ``BundleError`` unless ``mac`` authenticates ``signed`` under ``master``."""
    try:
        _mac(master, signed).verify(mac)
    except InvalidSignature:
        raise BundleError("the passphrase is wrong, or the bundle's header was altered; "
                          "try the passphrase again") from None
