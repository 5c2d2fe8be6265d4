"""Fuzzing the bundle: over a thousand damaged bundles, every one refused with the one clear
message, the target home untouched each time.

The bundles are real exports of a small home (about ten 64 KiB chunks). Argon2id at the
export parameters takes ~0.6 s, so a thousand real imports would take ten minutes. The tests
therefore derive each bundle's master key once, with the real KDF and the real passphrase,
and hand it to ``import_persona_unlocked`` (a seam the CLI cannot reach; ``persona import``
always runs ``derive_master_key``). Everything else runs as in a real import: the header is
parsed and its KDF bounds checked *before* the key is asked for (``unlock`` fails the test
if it is ever asked with parameters below the bounds), the header MAC is checked with the
key, and every chunk, the manifest and the hashes after it.

For a header whose KDF parameters were edited (within the bounds) the seam still returns
the original key. A real import would derive some other key from the edited parameters;
either way the MAC fails, because it covers the edited bytes, and the original key is the
one most favourable to an attacker.
"""

from __future__ import annotations

import random

import pytest

from persona.core.bundle import export_persona, import_persona_unlocked
from persona.core.errors import BundleError
from persona.privacy.bundle.format import read_header
from persona.privacy.bundle.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, derive_master_key
from tests.privacy.bundle_helpers import (
    PASSPHRASE,
    header_length,
    small_home,
    split,
    with_header_body,
)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Two exports of (different) small homes, with a master key derived once for each."""
    root = tmp_path_factory.mktemp("fuzz")
    out, keys = [], {}
    for i in range(2):
        home = small_home(root / f"home{i}", seed=i)
        path = export_persona(home, root / f"b{i}.persona", passphrase=PASSPHRASE).path
        data = path.read_bytes()
        with open(path, "rb") as f:
            body, _, _ = read_header(f)
        keys[body.kdf.salt] = derive_master_key(PASSPHRASE, body.kdf)
        out.append(data)
    return out, keys


def _variants(data: bytes, other: bytes) -> list[tuple[str, bytes]]:
    rng = random.Random(8)
    header, chunks = split(data)
    _, other_chunks = split(other)
    n = len(chunks)
    hl = header_length(data)
    out = []
    # Truncation at every chunk boundary, and at every byte of the header.
    out += [(f"cut at chunk {k}", header + b"".join(chunks[:k])) for k in range(n)]
    out += [(f"cut at header byte {i}", data[:i]) for i in range(hl)]
    out += [("cut inside the last chunk", data[:-1]), ("one byte added", data + b"\0")]
    # Reordered, dropped and duplicated chunks.
    for i in range(n):
        for j in range(i + 1, n):
            c = list(chunks)
            c[i], c[j] = c[j], c[i]
            out.append((f"chunks {i} and {j} swapped", header + b"".join(c)))
        c = list(chunks)
        del c[i]
        out.append((f"chunk {i} dropped", header + b"".join(c)))
        for j in range(n + 1):
            c = list(chunks)
            c.insert(j, chunks[i])
            out.append((f"chunk {i} repeated at {j}", header + b"".join(c)))
    # Spliced: chunks of another bundle (same passphrase) in this one, and its header.
    for i in range(min(n, len(other_chunks))):
        c = list(chunks)
        c[i] = other_chunks[i]
        out.append((f"chunk {i} from another bundle", header + b"".join(c)))
    out.append(("other bundle's header", split(other)[0] + b"".join(chunks)))
    # Random bit flips anywhere (header, MAC, chunk bodies, tags).
    for _ in range(600):
        pos = rng.randrange(len(data))
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        out.append((f"bit flipped at {pos}", bytes(flipped)))
    # Edited header fields and KDF parameters.
    edits = {
        "memory below the bound": lambda b: b["kdf"].update(memory_kib=MIN_MEMORY_KIB // 2),
        "passes below the bound": lambda b: b["kdf"].update(iterations=MIN_ITERATIONS - 1),
        "memory 1 KiB": lambda b: b["kdf"].update(memory_kib=1),
        "memory huge": lambda b: b["kdf"].update(memory_kib=2 ** 40),
        "no lanes": lambda b: b["kdf"].update(lanes=0),
        "memory raised within bounds": lambda b: b["kdf"].update(memory_kib=MIN_MEMORY_KIB * 2),
        "passes raised": lambda b: b["kdf"].update(iterations=b["kdf"]["iterations"] + 1),
        "lanes changed": lambda b: b["kdf"].update(lanes=1),
        "other salt": lambda b: b["kdf"].update(salt="00" * 16),
        "short salt": lambda b: b["kdf"].update(salt="00"),
        "scrypt": lambda b: b["kdf"].update(name="scrypt"),
        "iterations as text": lambda b: b["kdf"].update(iterations="5"),
        "other payload salt": lambda b: b.update(payload_salt="11" * 32),
        "other chunk size": lambda b: b.update(chunk_size=4096),
        "other cipher": lambda b: b.update(cipher="aes-256-gcm"),
        "extra field": lambda b: b.update(extra=1),
        "no kdf": lambda b: b.pop("kdf"),
    }
    out += [(f"header: {k}", with_header_body(data, e)) for k, e in edits.items()]
    magic = bytearray(data)
    magic[0:1] = b"X"
    out.append(("magic changed", bytes(magic)))
    for version in (0, 2, 65535):
        v = bytearray(data)
        v[15:17] = version.to_bytes(2, "big")
        out.append((f"format version {version}", bytes(v)))
    length = bytearray(data)
    length[17:21] = (10 ** 6).to_bytes(4, "big")
    out.append(("header length huge", bytes(length)))
    out += [("empty file", b""), ("only the header", header)]
    return [(name, v) for name, v in out if v != data]


def test_a_thousand_damaged_bundles_are_refused_and_leave_nothing(bundles, tmp_path):
    (data, other), keys = bundles
    first = next(iter(keys.values()))
    asked = []

    def unlock(params):
        assert params.memory_kib >= MIN_MEMORY_KIB and params.iterations >= MIN_ITERATIONS
        asked.append(params)
        return keys.get(params.salt, first)

    # The intact bundle goes through the same seam (so the seam is not what refuses).
    good = import_persona_unlocked(_write(tmp_path, "good", data), tmp_path / "ok",
                                   unlock=unlock)
    assert good.memories == 300

    variants = _variants(data, other)
    assert len(variants) >= 1000
    parent = tmp_path / "targets"
    parent.mkdir()
    for i, (name, variant) in enumerate(variants):
        src = _write(tmp_path, "bad", variant)
        target = parent / f"home{i}"
        existed = i % 2 == 1  # half into an existing empty folder, half into a new one
        if existed:
            target.mkdir()
        with pytest.raises(BundleError) as err:
            import_persona_unlocked(src, target, unlock=unlock)
        message = str(err.value)
        assert message.startswith(f"Cannot import {src}: "), (name, message)
        assert message.endswith(f"Nothing was written to {target}."), (name, message)
        if existed:
            assert target.is_dir() and not any(target.iterdir()), name
            target.rmdir()
        assert list(parent.iterdir()) == [], (name, list(parent.iterdir()))
    assert asked  # the KDF step was reached for the variants whose header parsed


def test_the_messages_say_what_is_wrong(bundles, tmp_path):
    (data, _), keys = bundles
    first = next(iter(keys.values()))
    header, chunks = split(data)
    cases = {
        "newer Persona (bundle format 2": _bump(data, 2),
        "not a Persona bundle": b"PK\x03\x04" + data[4:],
        "key-derivation settings are outside": with_header_body(
            data, lambda b: b["kdf"].update(memory_kib=1024)),
        "passphrase is wrong, or the bundle's header was altered": with_header_body(
            data, lambda b: b["kdf"].update(iterations=9)),
        "the last chunk is not the final one": header + b"".join(chunks[:-1]),
        "was changed": header + b"".join([chunks[1], chunks[0], *chunks[2:]]),
    }
    for expected, variant in cases.items():
        with pytest.raises(BundleError, match="Cannot import .*" + _re(expected)):
            import_persona_unlocked(_write(tmp_path, "x", variant), tmp_path / "t",
                                    unlock=lambda p: first)
        assert not (tmp_path / "t").exists()


def _bump(data: bytes, version: int) -> bytes:
    v = bytearray(data)
    v[15:17] = version.to_bytes(2, "big")
    return bytes(v)


def _re(text: str) -> str:
    import re

    return re.escape(text)


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / f"{name}.persona"
    path.write_bytes(data)
    return path
