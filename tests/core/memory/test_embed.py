"""The real bundled embedder: shape, normalisation, meaning, laziness, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from persona.core.errors import ModelError, TextError
from persona.core.memory.embed import Embedder, batch_workers, usable_cores
from persona.core.settings import Settings

pytestmark = pytest.mark.slow


def test_vectors_are_384_d_normalised_float32(embedder):
    v = embedder.encode(["My sister lives in Lisbon.", "I like green tea."])
    assert v.shape == (2, 384) and v.dtype == np.float32 and v.flags.c_contiguous
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 384
    assert embedder.encode_query("hello").shape == (384,)
    assert embedder.encode([]).shape == (0, 384)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(embedder):
    fact, question, other = embedder.encode([
        "My sister Ana lives in Lisbon and works as a nurse.",
        "Where does my sister live?",
        "The quarterly budget spreadsheet needs two more columns.",
    ])
    assert float(fact @ question) > float(other @ question) + 0.2


def test_batching_does_not_change_the_vectors(embedder):
    texts = [f"Note {i}: the weather was {'sunny' if i % 2 else 'rainy'} today." for i in range(9)]
    small = Embedder(batch_size=2)
    small._model = embedder.load()  # same weights, other batch size
    assert np.allclose(small.encode(texts), embedder.encode(texts), atol=1e-5)


def test_empty_text_is_refused(embedder):
    with pytest.raises(TextError, match="#1 is empty"):
        embedder.encode(["fine", "   "])
    with pytest.raises(TypeError):
        embedder.encode("a single string is a mistake")


def test_the_model_loads_lazily_and_once_across_threads():
    e = Embedder()
    assert not e.loaded  # constructing it costs nothing
    models, errors = [], []

    def work():
        try:
            models.append(e.load())
            e.encode(["a thread's sentence"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({id(m) for m in models}) == 1


def test_from_settings_uses_the_bundled_model_by_default(tmp_path):
    assert Embedder.from_settings(Settings()).path.name == "model"
    custom = tmp_path / "my-model"
    custom.mkdir()
    assert Embedder.from_settings(Settings(embed_model=str(custom))).path == custom


def test_a_missing_or_broken_model_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        Embedder(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json", encoding="utf-8")
    e = Embedder(broken)
    with pytest.raises(ModelError, match="embed_model"):
        e.encode(["anything"])


def test_small_inputs_run_on_one_thread_and_restore_the_count(embedder):
    import torch

    before = torch.get_num_threads()
    seen = []
    model = embedder.load()
    # A model the numpy form does not compute: its small inputs go through torch.
    embedder = Embedder(embedder.path)
    embedder._model, embedder._numpy_ok = model, False
    original = model.encode

    def spy(*args, **kwargs):  # records the thread count the real encode runs with
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    model.encode = spy
    try:
        embedder.encode_query("a short question")
        embedder.encode([f"text {i}" for i in range(20)])
    finally:
        del model.encode
    assert seen == [1, before]
    assert torch.get_num_threads() == before


def test_numpy_batches_use_a_worker_per_core_within_omp_num_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert batch_workers() == usable_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the nightly job leaving the person a core
    assert batch_workers() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    assert batch_workers() == usable_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert batch_workers() == usable_cores()
