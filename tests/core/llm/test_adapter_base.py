"""An adapter is used only with the base model it was trained for (issue 9): the record in
its meta.json, the width of an old adapter's weights, the note when it is skipped, and the
real llama.cpp model loading without it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from persona.core.llm.adapter_base import adapter_fit, base_record, trained_for
from persona.core.models.files import selected_llm
from persona.core.paths import Home
from persona.core.settings import Settings

SMOL, QWEN = Settings(llm="smollm2-135m"), Settings(llm="qwen2.5-coder-0.5b")


def _adapter(folder, *, meta: dict | None = None, hidden: int | None = None):
    """A version folder: meta.json, and a peft adapter whose q_proj LoRA A reads ``hidden``."""
    folder.mkdir(parents=True)
    if meta is not None:
        (folder / "meta.json").write_text(json.dumps(meta))
    if hidden is not None:
        peft = folder / "peft"
        peft.mkdir()
        (peft / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
        key = "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"
        save_file({key: np.zeros((8, hidden), np.float32)}, str(peft / "adapter_model.safetensors"))
    return folder


def test_the_record_names_the_selected_model_and_its_sha256():
    spec = selected_llm(QWEN)
    assert base_record(QWEN) == {"base_model": spec.name, "base_sha256": spec.sha256}
    assert base_record(Settings(llm_model="/somewhere")) == {"base_model": None,
                                                             "base_sha256": None}


def test_a_recorded_adapter_fits_only_its_own_model(tmp_path):
    smol = selected_llm(SMOL)
    folder = _adapter(tmp_path / "v1", meta={"base_model": smol.name,
                                             "base_sha256": smol.sha256})
    assert adapter_fit(SMOL, folder).adapter_dir == folder
    fit = adapter_fit(QWEN, folder)
    assert fit.adapter_dir is None and fit.trained_for == "smollm2-135m"
    assert fit.note.startswith("your adapter was trained for smollm2-135m; it is not used "
                               "with qwen2.5-coder-0.5b; train again")
    assert adapter_fit(QWEN, None).adapter_dir is None and adapter_fit(QWEN, None).note is None
    assert adapter_fit(QWEN, tmp_path / "missing").note is None


@pytest.mark.parametrize(("hidden", "name"), [(576, "smollm2-135m"), (896, "qwen2.5-coder-0.5b"),
                                              (1536, "qwen2.5-coder-1.5b"), (None, "smollm2-135m"),
                                              (123, "smollm2-135m")])
def test_an_old_adapter_is_taken_as_trained_for_what_its_weights_say(tmp_path, hidden, name):
    folder = _adapter(tmp_path / "old", meta={"version": "old", "created": "then"},
                      hidden=hidden)
    assert trained_for(folder) == (name, None)
    assert (adapter_fit(QWEN, folder).adapter_dir is not None) == (name == QWEN.llm)


def test_a_model_folder_of_ones_own_keeps_the_adapter(tmp_path):
    folder = _adapter(tmp_path / "v1", meta={"base_model": "x", "base_sha256": "0" * 64})
    assert adapter_fit(Settings(llm_model=str(tmp_path)), folder).adapter_dir == folder


@pytest.mark.slow
def test_llamacpp_loads_the_new_model_without_the_old_adapter_and_says_so(tmp_path, caplog):
    """The real Qwen GGUF with an adapter made for SmolLM2 in the home (real shapes: llama.cpp
    would refuse it): the model loads, base only, and the note is on the backend."""
    from persona.core.llm.factory import load_backend
    from persona.core.models.files import llm_file

    try:
        llm_file(selected_llm(QWEN))
    except Exception as exc:  # noqa: BLE001 - the optional model package is not installed
        pytest.skip(f"Qwen2.5-Coder-0.5B is not installed here ({exc})")
    home = Home.resolve(tmp_path / "home").ensure()
    version = _adapter(home.adapters_dir / "versions" / "v1", hidden=576,
                       meta={"version": "v1", "created": "then"})
    home.adapter_dir.symlink_to(version.relative_to(home.adapters_dir))
    backend = load_backend(QWEN.model_copy(update={"llm_backend": "llamacpp"}), home)
    assert not backend.adapter_loaded
    assert "trained for smollm2-135m; it is not used with qwen2.5-coder-0.5b" in \
        backend.adapter_note
    assert "trained for smollm2-135m" in caplog.text
    assert backend.chat([{"role": "user", "content": "Say hi."}]) is not None
