"""The preference tests share one real embedder (the bundled all-MiniLM-L6-v2)."""

from __future__ import annotations

import pytest

from persona.core.memory.embed import Embedder


@pytest.fixture(scope="session")
def encode():
    e = Embedder()
    return e.encode
