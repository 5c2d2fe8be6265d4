"""Choosing the model folder: the person's own, or the bundled GGUF converted once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persona.core.errors import ModelError
from persona.core.llm import models
from persona.core.llm.convert import SOURCE_FILE, source_info
from persona.core.llm.models import (
    CONVERTED_NAME,
    conversion_lock,
    converted_folder,
    default_backend_name,
    ensure_model_folder,
    leftovers,
    validate_model_folder,
)
from persona.core.models.cache import hf_dir
from persona.core.models.catalog import get_model
from persona.core.models.files import llm_file
from persona.core.paths import Home
from persona.core.settings import Settings
from tests.conftest import ROOT
from tests.core.llm.conftest import FAST_LLM, FRANCE

# ---- which backend ---------------------------------------------------------------------


@pytest.mark.parametrize("platform_, machine, want", [
    ("darwin", "arm64", "mlx"), ("darwin", "x86_64", "llamacpp"),
    ("linux", "x86_64", "llamacpp"), ("linux", "aarch64", "llamacpp"),
    ("win32", "AMD64", "llamacpp")])
def test_auto_backend_is_mlx_only_on_apple_silicon(monkeypatch, platform_, machine, want):
    # The platform is faked: the test machine is only one of these.
    monkeypatch.setattr(models.sys, "platform", platform_)
    monkeypatch.setattr(models.platform, "machine", lambda: machine)
    assert default_backend_name(Settings()) == want
    assert default_backend_name(None) == want


@pytest.mark.parametrize("choice", ["llamacpp", "torch", "mlx"])
def test_setting_overrides_the_platform(choice):
    assert default_backend_name(Settings(llm_backend=choice)) == choice


# ---- the person's own folder -----------------------------------------------------------


def test_own_folder_is_used_as_is(model_folder, home):
    settings = Settings(llm_model=str(model_folder))
    assert ensure_model_folder(settings, Home.resolve(home)) == model_folder


@pytest.mark.parametrize("remove, needle", [
    ("config.json", "no config.json"),
    ("tokenizer", "no tokenizer"),
    ("model.safetensors", "no weights"),
])
def test_incomplete_own_folder_names_what_is_missing(model_folder, tmp_path, remove, needle):
    folder = tmp_path / "my-model"
    folder.mkdir()
    for f in model_folder.iterdir():
        if not f.name.startswith(remove):
            (folder / f.name).symlink_to(f)
    with pytest.raises(ModelError, match=f"{folder}.*{needle}.*llm_model"):
        validate_model_folder(folder)


def test_missing_own_folder(tmp_path, home):
    with pytest.raises(ModelError, match="does not exist.*llm_model"):
        ensure_model_folder(Settings(llm_model=str(tmp_path / "nope")), Home.resolve(home))


# ---- the catalog model, converted once into the per-user cache --------------------------


def _hf() -> Path:
    """Where FAST_LLM's conversion lives in the cache PERSONA_CACHE names."""
    return hf_dir(get_model(FAST_LLM).sha256)


def _fast() -> Settings:
    return Settings(llm=FAST_LLM)


def _fast_gguf() -> Path:
    return llm_file(get_model(FAST_LLM))


def test_converted_folder_is_complete(model_folder):
    names = {p.name for p in model_folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "generation_config.json", SOURCE_FILE} <= names
    assert "chat_template.jinja" in names
    validate_model_folder(model_folder)
    from tests.core.llm.conftest import read_json

    config = read_json(model_folder / "config.json")
    assert "quantization_config" not in config
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"] == 100000.0
    assert read_json(model_folder / "tokenizer_config.json")["model_max_length"] == 8192


def test_second_call_reuses_the_conversion(model_folder, home, monkeypatch):
    def must_not_run(*a, **k):
        raise AssertionError("converted again")

    monkeypatch.setattr(models, "_convert_into_place", must_not_run)
    t = time.perf_counter()
    assert ensure_model_folder(_fast(), Home.resolve(home)) == model_folder
    assert time.perf_counter() - t < 1.0


def _shared_copy(model_folder: Path, models_dir: Path) -> Path:
    """A cheap copy of the finished conversion (symlinked files) in another models dir."""
    copy = models_dir / CONVERTED_NAME
    copy.mkdir(parents=True)
    for f in model_folder.iterdir():
        (copy / f.name).symlink_to(f)
    return copy


def test_leftover_temp_folders_are_ignored_and_cleaned(model_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_CACHE", str(tmp_path / "cache"))
    final = _shared_copy(model_folder, _hf())
    left = _hf() / f".{CONVERTED_NAME}.tmp-crashed"
    left.mkdir()
    (left / "config.json").write_text("{}")  # looks like a model, half-written
    assert leftovers(_hf()) == [left]
    assert ensure_model_folder(_fast(), Home.resolve(tmp_path / "h")) == final
    assert not left.exists()


def test_unfinished_or_outdated_conversion_is_not_used(model_folder, tmp_path):
    gguf = _fast_gguf()
    final = _shared_copy(model_folder, tmp_path)
    assert converted_folder(tmp_path, gguf) == final
    (final / SOURCE_FILE).unlink()  # the record is written last: without it, unfinished
    assert converted_folder(tmp_path, gguf) is None
    (final / SOURCE_FILE).write_text(json.dumps({"gguf": gguf.name, "size": 1}))
    assert source_info(gguf)["size"] != 1
    assert converted_folder(tmp_path, gguf) is None  # made from another GGUF
    assert converted_folder(tmp_path) == final  # (without a GGUF to compare, it counts)
    (final / SOURCE_FILE).write_text("garbage")
    assert converted_folder(tmp_path) is None


CONVERT = """
import sys
from persona.core.llm.models import ensure_model_folder
from persona.core.paths import Home
from persona.core.settings import Settings
ensure_model_folder(Settings(llm=sys.argv[2]), Home.resolve(sys.argv[1]))
"""


@pytest.mark.slow
def test_killed_conversion_leaves_no_model_and_no_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_CACHE", str(tmp_path / "cache"))
    cache = _hf()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", CONVERT, str(tmp_path / "home"), FAST_LLM],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not leftovers(cache) and time.monotonic() < deadline:
            assert proc.poll() is None, "the converter exited early"
            time.sleep(0.1)
        assert leftovers(cache), "the converter never started its temporary folder"
        time.sleep(2)  # let it get into the conversion proper
        with conversion_lock(cache, blocking=False) as got:
            assert not got  # a second process would wait for this one
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert converted_folder(cache) is None
    assert not (cache / CONVERTED_NAME).exists()
    assert leftovers(cache)  # the half-made folder stays hidden until the next conversion
    with conversion_lock(cache, blocking=False) as got:
        assert got  # the OS released the dead process's lock


@pytest.mark.slow
def test_converted_model_generates_what_the_gguf_generates(model_folder):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from persona.core.llm.convert import load_gguf

    gguf_model, gguf_tok = load_gguf(_fast_gguf())
    model = AutoModelForCausalLM.from_pretrained(model_folder, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(model_folder)
    for messages in (FRANCE, [{"role": "user", "content": "Write a haiku about rain."}]):
        ids = tok.apply_chat_template(messages, add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)
        gguf_ids = gguf_tok.apply_chat_template(messages, add_generation_prompt=True,
                                                return_tensors="pt", return_dict=True)
        assert torch.equal(ids["input_ids"], gguf_ids["input_ids"])
        with torch.inference_mode():
            a = model.generate(**ids, max_new_tokens=20, do_sample=False)
            b = gguf_model.generate(**ids, max_new_tokens=20, do_sample=False)
        assert a.tolist() == b.tolist()
        assert a.shape[1] > ids["input_ids"].shape[1]


def test_unwritable_model_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the model cache should be")
    monkeypatch.setenv("PERSONA_CACHE", str(blocker / "cache"))
    with pytest.raises(ModelError, match=f"{blocker / 'cache'}.*free about 0.5 GB"):
        ensure_model_folder(_fast(), Home.resolve(tmp_path / "h"))


def test_every_home_shares_one_conversion_in_the_cache(model_folder, tmp_path):
    # Issue 9: a new home converts nothing and holds no model; the cache is keyed by the
    # GGUF's sha256.
    assert model_folder == _hf() / CONVERTED_NAME
    a, b = Home.resolve(tmp_path / "a"), Home.resolve(tmp_path / "b")
    assert ensure_model_folder(_fast(), a) == ensure_model_folder(_fast(), b) == model_folder
    assert not (a.root / "models").exists() and not (b.root / "models").exists()
