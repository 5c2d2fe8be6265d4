"""From a passphrase to the bundle's keys: Argon2id, then HKDF-SHA256 for each use.

Argon2id (RFC 9106) is memory-hard, so guessing passphrases costs an attacker memory as well
as time. The parameters are written in the bundle's header; on import they must lie between
the bounds below. The lower bounds stop a forged or downgraded header from making the key
cheap to guess; the upper bounds stop a forged header from making the import allocate
gigabytes before the header is known to be authentic. Both come from the ``cryptography``
package (OpenSSL); nothing here is home-made cryptography.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field

from persona.core.errors import BundleError

KEY_BYTES = 32
SALT_BYTES = 16

# What export uses: 256 MiB, 5 passes, 4 lanes (about 0.6 s on this project's 2-core machine;
# benchmarks/bench_bundle.py measures it).
DEFAULT_MEMORY_KIB = 256 * 1024
DEFAULT_ITERATIONS = 5
DEFAULT_LANES = 4

# What import accepts. The floor is RFC 9106's second recommended setting (64 MiB, 3 passes).
MIN_MEMORY_KIB = 64 * 1024
MIN_ITERATIONS = 3
MAX_MEMORY_KIB = 2 * 1024 * 1024
MAX_ITERATIONS = 64
MAX_LANES = 16


class KdfParams(BaseModel):
    """The KDF as recorded in a bundle's header."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "argon2id"
    memory_kib: int = Field(DEFAULT_MEMORY_KIB, strict=True)
    iterations: int = Field(DEFAULT_ITERATIONS, strict=True)
    lanes: int = Field(DEFAULT_LANES, strict=True)
    salt: str  # hex, SALT_BYTES random bytes

    @classmethod
    def fresh(cls) -> KdfParams:
        """The export defaults with a new random salt."""
        return cls(salt=os.urandom(SALT_BYTES).hex())


def check_bounds(params: KdfParams) -> None:
    """Raise ``BundleError`` unless ``params`` are within what import accepts."""
    problems = []
    if params.name != "argon2id":
        problems.append(f"KDF {params.name!r} (only argon2id is read)")
    if not MIN_MEMORY_KIB <= params.memory_kib <= MAX_MEMORY_KIB:
        problems.append(f"memory {params.memory_kib} KiB (allowed {MIN_MEMORY_KIB}-"
                        f"{MAX_MEMORY_KIB})")
    if not MIN_ITERATIONS <= params.iterations <= MAX_ITERATIONS:
        problems.append(f"{params.iterations} passes (allowed {MIN_ITERATIONS}-"
                        f"{MAX_ITERATIONS})")
    if not 1 <= params.lanes <= MAX_LANES:
        problems.append(f"{params.lanes} lanes (allowed 1-{MAX_LANES})")
    try:
        salt = bytes.fromhex(params.salt)
    except ValueError:
        salt = b""
    if len(salt) != SALT_BYTES:
        problems.append(f"a salt that is not {SALT_BYTES} bytes of hex")
    if params.memory_kib < 8 * params.lanes:
        problems.append("less memory than Argon2id needs for its lanes")
    if problems:
        raise BundleError("its key-derivation settings are outside what Persona accepts ("
                          + "; ".join(problems) + "), so it was altered or not made by "
                          "Persona")


def derive_master_key(passphrase: str, params: KdfParams) -> bytes:
    """The 32-byte master key of ``passphrase`` under ``params`` (checked against the bounds
    first, so a forged header cannot make this cheap or exhaust memory)."""
    check_bounds(params)
    if not passphrase:
        raise BundleError("the passphrase is empty; give the passphrase the bundle was made "
                          "with")
    kdf = Argon2id(salt=bytes.fromhex(params.salt), length=KEY_BYTES,
                   iterations=params.iterations, lanes=params.lanes,
                   memory_cost=params.memory_kib)
    return kdf.derive(passphrase.encode("utf-8"))


def subkey(master: bytes, *, purpose: bytes, salt: bytes | None = None) -> bytes:
    """A key for one ``purpose`` (header MAC, payload) from the master key, by HKDF-SHA256;
    different purposes never share a key."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt,
                info=b"persona-bundle v1 " + purpose).derive(master)
