"""A private model cache per test, fake multi-part model packages and tiny GGUF files.

The fake packages are real packages on ``sys.path`` (found with find_spec like the real
ones); only their size is fake, so the joining mechanics run in milliseconds.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from persona.core.models.catalog import ModelSpec, Part


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("PERSONA_CACHE", str(d))
    return d


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A three-part LLM spread over three installed packages; returns (spec, joined bytes)."""
    site = tmp_path / "site"
    chunks = [bytes([i]) * (1000 + i) for i in range(3)]
    parts = []
    for i, chunk in enumerate(chunks, 1):
        pkg = site / f"persona_fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        parts.append(Part(f"persona_fake_part{i}", f"data/part{i:02d}.bin"))
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    spec = ModelSpec(name="fake", role="llm", title="fake", params=1, size=len(whole),
                     licence="MIT", sha256=hashlib.sha256(whole).hexdigest(),
                     packages=tuple((f"persona-fake-part{i}", "1.0") for i in (1, 2, 3)),
                     parts=tuple(parts))
    yield spec, whole
    for i in (1, 2, 3):
        sys.modules.pop(f"persona_fake_part{i}", None)


def write_gguf(path: Path, *, chat: bool = True, arch: str = "llama",
               name: str = "Tiny Test Chat", rows: int = 16) -> Path:
    """A tiny but well-formed GGUF (one tensor of ``rows`` x 8 floats) written with gguf's
    own GGUFWriter; many rows make a file big enough to cancel while it is copied."""
    from gguf import GGUFWriter

    w = GGUFWriter(str(path), arch)
    w.add_name(name)
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    if chat:
        w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    w.add_tensor("token_embd.weight", np.zeros((rows, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
