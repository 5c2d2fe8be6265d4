"""The numpy form of all-MiniLM-L6-v2 gives sentence-transformers' vectors (real model on
both sides), one text, a few, or a batch shared out over worker threads; the Embedder uses
it for everything without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from persona.core.memory.embed import SMALL_INPUT, Embedder
from persona.core.memory.numpy_embed import NumpyBert

pytestmark = pytest.mark.slow

SENTENCES = [
    "Where does my sister live, and what is her job?",
    "hi",
    "My grandmother grew purple tomatoes in Lisbon. " * 40,  # > 256 tokens: truncated
    "What is my dog's name? " * 20,  # between 128 (tokenizer.json's limit) and 256 tokens
    "Ünïcödé — naïve café, 東京 and an emoji 🙂",
    "I started learning the cello again in March 2024; lessons are on Tuesdays.",
]


@pytest.fixture(scope="module")
def numpy_bert(embedder) -> NumpyBert:
    return NumpyBert(embedder.path)


def test_numpy_and_sentence_transformers_give_the_same_vectors(embedder, numpy_bert):
    model = embedder.load()
    lengths = [len(model.tokenizer(s)["input_ids"]) for s in SENTENCES]
    assert model.max_seq_length == numpy_bert.max_length == 256
    assert max(lengths) > 256 and any(128 < n <= 256 for n in lengths)
    want = model.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=True)
    together = numpy_bert.encode(SENTENCES)  # padded to the longest: the mask must hold
    alone = np.stack([numpy_bert.encode([s])[0] for s in SENTENCES])
    for got in (together, alone):
        assert got.dtype == np.float32 and got.shape == want.shape
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert (got * want).sum(axis=1).min() >= 0.9999


def test_batches_sorted_and_shared_out_give_the_same_vectors_in_order(embedder, numpy_bert):
    texts = [f"{s} ({i})" for i, s in enumerate(SENTENCES * 5)]  # mixed lengths, unsorted
    want = embedder.load().encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    for workers in (1, 2):
        got = numpy_bert.encode_many(texts, batch_size=4, workers=workers)  # 8 batches
        assert got.dtype == np.float32 and got.shape == want.shape
        assert (got * want).sum(axis=1).min() >= 0.9999  # each row is its own text's
    assert numpy_bert.encode_many([]).shape == (0, numpy_bert.dim)


def test_the_embedder_uses_numpy_for_a_few_texts_and_for_batches(embedder):
    fresh = Embedder(embedder.path)
    few = fresh.encode(SENTENCES[:SMALL_INPUT])
    many = fresh.encode(SENTENCES * 2)  # more than SMALL_INPUT: numpy batches
    assert not fresh.loaded  # sentence-transformers never loaded
    assert fresh.encode_query("hello").shape == (384,) and fresh.dim == 384
    torch = Embedder(embedder.path, batches="torch").encode(SENTENCES * 2)
    assert (few * many[:len(few)]).sum(axis=1).min() >= 0.9999
    assert (many * torch).sum(axis=1).min() >= 0.9999
    with pytest.raises(ValueError, match="batches must be one of"):
        Embedder(embedder.path, batches="onnx")


def test_a_query_in_a_new_process_imports_no_torch(embedder):
    code = ("import sys, json; from persona.core.memory.embed import Embedder; "
            f"e = Embedder({str(embedder.path)!r}); v = e.encode_query('Where is my sister?'); "
            "print(json.dumps([v.shape[0], 'torch' in sys.modules, "
            "'sentence_transformers' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [384, False, False]


def test_other_model_folders_go_through_torch(tmp_path, embedder):
    assert NumpyBert.supports(embedder.path)
    assert not NumpyBert.supports(tmp_path)  # nothing there
    for name in ("modules.json", "config.json", "tokenizer.json", "model.safetensors"):
        (tmp_path / name).symlink_to(embedder.path / name)
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(
        {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert not NumpyBert.supports(tmp_path)  # CLS pooling is not what it computes
