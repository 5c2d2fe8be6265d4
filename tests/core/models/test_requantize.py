"""The runtime copy llama.cpp runs (core/models/requantize.py): made once by llama.cpp's own
quantizer from a real model file, private, atomic, trusted later, made again when damaged,
and close to the file it comes from in what it predicts.

SmolLM2-135M (Q4_1, 98 MB) stands in for the catalog's Qwen 0.5B: the same code path, a few
seconds instead of ten.
"""

from __future__ import annotations

import stat
from dataclasses import replace

import numpy as np
import pytest

from persona.core.errors import ModelError
from persona.core.llm.llamacpp_backend import LlamaCppBackend
from persona.core.llm.models import model_gguf
from persona.core.models import cache, catalog, requantize
from persona.core.models.catalog import get_model
from persona.core.models.files import llm_file
from persona.core.models.gguf_header import read_header
from persona.core.paths import Home
from persona.core.settings import Settings

SMALL = "smollm2-135m"
TEXT = ("My sister Ingrid lives in Bergen and works as a nurse at the hospital. On Sundays "
        "we walk the dog along the harbour and talk about the week.")


def _mode(p):
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def source(cache_dir):
    spec = get_model(SMALL, "llm")
    return spec, llm_file(spec)


def test_the_copy_is_made_once_private_and_of_the_asked_type(source, monkeypatch):
    spec, path = source
    copy = requantize.runtime_copy(path, spec.sha256, "Q4_0")
    assert copy == requantize.derived_path(spec.sha256, "Q4_0")
    assert read_header(copy).metadata["general.file_type"] == 2  # LLAMA_FTYPE_MOSTLY_Q4_0
    assert read_header(path).metadata["general.file_type"] == 3  # the source: Q4_1
    assert _mode(copy) == 0o600 and _mode(copy.parent) == 0o700
    recorded = copy.with_name(copy.name + ".sha256").read_text().strip()
    assert recorded == cache.sha256_of(copy) and cache.is_verified(copy, recorded)
    assert not [p for p in copy.parent.iterdir() if p.name.endswith(".tmp")]

    def no(*a, **k):
        raise AssertionError("made or hashed again")

    monkeypatch.setattr(requantize, "_quantize", no)
    monkeypatch.setattr(cache, "sha256_of", no)
    assert requantize.runtime_copy(path, spec.sha256, "Q4_0") == copy  # trusted by its stamp


def test_a_damaged_copy_is_made_again(source):
    spec, path = source
    copy = requantize.runtime_copy(path, spec.sha256, "Q4_0")
    good = copy.with_name(copy.name + ".sha256").read_text()
    with open(copy, "r+b") as f:  # same size, other bytes
        f.seek(copy.stat().st_size // 2)
        f.write(b"\0" * 64)
    again = requantize.runtime_copy(path, spec.sha256, "Q4_0")
    assert cache.sha256_of(again) == good.strip()


def test_a_file_llama_cpp_cannot_read_is_a_clear_error_and_leaves_nothing(cache_dir, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\0\0\0" + b"\xff" * 200)
    with pytest.raises(ModelError, match="could not make a runtime copy .* llm_requantize"):
        requantize.runtime_copy(bad, "0" * 64, "Q4_0")
    folder = requantize.derived_path("0" * 64, "Q4_0").parent
    assert not list(folder.iterdir())
    with pytest.raises(ModelError, match="not supported"):
        requantize.runtime_copy(bad, "0" * 64, "Q2_K")


def test_the_setting_chooses_the_copy_or_the_file(source, monkeypatch, tmp_path):
    spec, path = source
    monkeypatch.setitem(catalog.BUILTIN, SMALL, replace(spec, runtime_quant="Q4_0"))
    home = Home.resolve(tmp_path / "home")  # not read: the model is chosen by settings
    copy = model_gguf(Settings(llm=SMALL), home)
    assert copy == requantize.derived_path(spec.sha256, "Q4_0")
    assert model_gguf(Settings(llm=SMALL, llm_requantize=False), home) == path
    monkeypatch.setitem(catalog.BUILTIN, SMALL, spec)  # a model that names no copy
    assert model_gguf(Settings(llm=SMALL), home) == path


def test_the_catalog_default_runs_a_q4_0_copy():
    assert get_model(catalog.DEFAULT_LLM, "llm").runtime_quant == "Q4_0"


def test_the_copy_predicts_text_as_the_file_does(source):
    """Requantizing costs little: the copy's mean per-token loss on a sentence is within a
    few percent of the file's (a broken copy would be far off, or not load at all)."""
    spec, path = source
    copy = requantize.runtime_copy(path, spec.sha256, "Q4_0")
    losses = []
    for gguf in (path, copy):
        backend = LlamaCppBackend(gguf, n_ctx=128, logits_all=True)
        losses.append(float(np.mean(backend.token_nll(backend.encode_text(TEXT)))))
    assert abs(losses[1] - losses[0]) < 0.1 * losses[0], losses


def test_the_first_load_says_it_makes_the_copy(source, monkeypatch, tmp_path):
    """The pipeline passes its model_progress to the load (the CLI prints it on stderr, the
    app shows it in the status line): ten silent seconds would look like a hang."""
    from persona.core.pipeline import Pipeline

    spec, _ = source
    monkeypatch.setitem(catalog.BUILTIN, SMALL, replace(spec, runtime_quant="Q4_0"))
    pipe = Pipeline(tmp_path / "home", Settings(llm=SMALL, llm_backend="llamacpp"))
    said: list[str] = []
    pipe.model_progress = said.append
    assert pipe.llm.path == requantize.derived_path(spec.sha256, "Q4_0")
    assert any("faster Q4_0 copy" in s and "once" in s for s in said), said
