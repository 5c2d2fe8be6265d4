"""Shared set-up of the bundle tests: a small persona home built without any model, and
helpers to read a bundle's header and chunks."""

from __future__ import annotations

import hashlib
import json
import os
import random
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import lancedb
import pyarrow as pa

from persona.core.memory.schema import arrow_schema, text_hash
from persona.core.paths import Home
from persona.privacy.bundle.format import CHUNK_SIZE, MAC_BYTES, MAGIC
from persona.privacy.bundle.stream import TAG_BYTES

PASSPHRASE = "correct horse battery staple"
SEALED = CHUNK_SIZE + TAG_BYTES


def small_home(root: Path, *, rows: int = 300, seed: int = 0) -> Home:
    """A home with ``rows`` memories (random 384-d vectors), a profile and its sidecar,
    settings, an adapter version with the ``current`` link, and a ledger file (the bundle
    carries it byte for byte and never parses it)."""
    rng = random.Random(seed)
    root.mkdir(mode=0o700)
    home = Home(root)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    texts = [f"Memory {i}: I walked {rng.randint(1, 99)} minutes by the river" for i in range(rows)]
    table = pa.Table.from_pylist([{
        "id": f"{i:032x}", "ts": t0 + timedelta(hours=i), "source": "text", "speaker": "person",
        "text": t, "text_hash": text_hash(t), "emotion": "neutral", "valence": 0.1,
        "arousal": 0.2, "emotion_confidence": 0.5, "conversation_id": None, "audio_path": None,
        "origin": None, "vector": [rng.uniform(-1, 1) for _ in range(384)],
    } for i, t in enumerate(texts)], schema=arrow_schema(384))
    lancedb.connect(str(home.memory_dir)).create_table("memories", data=table)
    home.settings_file.write_text("temperature: 0.0\n")
    home.profile_file.write_text("identity:\n  name: Ada\n")
    (root / ".profile.induced.json").write_text(json.dumps({"identity.name": "Ada"}))
    version = home.adapters_dir / "versions" / "20260101T000000-abcd1234"
    (version / "peft").mkdir(parents=True)
    (version / "peft" / "adapter_model.safetensors").write_bytes(rng.randbytes(100_000))
    (version / "meta.json").write_text('{"version": "20260101T000000-abcd1234"}')
    os.symlink(Path("versions") / version.name, home.adapters_dir / "current")
    home.privacy_dir.mkdir()
    (home.privacy_dir / "ledger.jsonl").write_text('{"seq": 1, "type": "created"}\n')
    (home.privacy_dir / "ledger.jsonl.lock").touch()  # a lock file is never bundled
    (home.logs_dir).mkdir()
    (home.logs_dir / "persona.log").write_text("never bundled\n")
    return home


def header_length(data: bytes) -> int:
    """Bytes of the header (magic, version, length, body, MAC) at the start of ``data``."""
    (body,) = struct.unpack(">I", data[len(MAGIC) + 2:len(MAGIC) + 6])
    return len(MAGIC) + 6 + body + MAC_BYTES


def split(data: bytes) -> tuple[bytes, list[bytes]]:
    """(header, sealed chunks) of a bundle's bytes."""
    n = header_length(data)
    payload = data[n:]
    return data[:n], [payload[i:i + SEALED] for i in range(0, len(payload), SEALED)]


def with_header_body(data: bytes, edit) -> bytes:
    """``data`` with its header body replaced by ``edit(body_dict)`` (length updated, the MAC
    left as it was, as an attacker without the passphrase would have to)."""
    n = header_length(data)
    body = json.loads(data[len(MAGIC) + 6:n - MAC_BYTES])
    edit(body)
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return (data[:len(MAGIC) + 2] + struct.pack(">I", len(raw)) + raw
            + data[n - MAC_BYTES:n] + data[n:])


def tree_digest(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """{relative path: sha256 of a file | 'link -> target' | 'dir'} under ``root``."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.split("/")[0] in skip:
            continue
        if p.is_symlink():
            out[rel] = f"link -> {os.readlink(p)}"
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
