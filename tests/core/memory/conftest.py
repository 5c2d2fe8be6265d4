"""Memory tests share one real embedder (the bundled all-MiniLM-L6-v2): loading it per test
would dominate the run time."""

from __future__ import annotations

import pytest

from persona.core.memory.embed import Embedder
from persona.core.memory.store import MemoryStore


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    e = Embedder()
    e.load()
    return e


@pytest.fixture
def store(tmp_path, embedder) -> MemoryStore:
    """An empty store in a fresh folder, with the real embedder."""
    return MemoryStore(tmp_path / "memory.lancedb", embedder)
