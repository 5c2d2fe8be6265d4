"""Finding the person's adapter and its format, on folders written by peft and mlx-lm."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from persona.core.errors import ModelError
from persona.core.llm.adapters import adapter_format, find_adapter, mlx_to_peft, peft_to_mlx
from tests.core.llm.conftest import make_mlx_adapter, make_peft_adapter, read_json


@pytest.fixture(scope="module")
def adapters(model_folder, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"peft": make_peft_adapter(model_folder, root / "current" / "peft", layers=[28, 29]),
            "mlx": make_mlx_adapter(model_folder, root / "current" / "mlx", num_layers=2),
            "current": root / "current"}


def test_formats_are_told_apart(adapters):
    assert adapter_format(adapters["peft"]) == "peft"
    assert adapter_format(adapters["mlx"]) == "mlx"
    assert adapter_format(adapters["current"]) is None  # only subfolders
    assert adapter_format(None) is None


def test_find_adapter_looks_in_the_format_subfolder(adapters):
    assert find_adapter(adapters["current"], "peft") == adapters["peft"]
    assert find_adapter(adapters["current"], "mlx") == adapters["mlx"]
    assert find_adapter(adapters["current"].parent / "missing", "peft") is None
    assert find_adapter(None, "mlx") is None


def test_adapter_saved_directly_in_the_folder_is_found(adapters, tmp_path):
    direct = tmp_path / "current"
    direct.mkdir()
    for f in adapters["mlx"].iterdir():
        (direct / f.name).write_bytes(f.read_bytes())
    assert find_adapter(direct, "mlx") == direct
    assert find_adapter(direct, "peft") is None


def test_config_without_weights_is_not_an_adapter(adapters, tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    (half / "adapter_config.json").write_bytes((adapters["peft"] / "adapter_config.json")
                                               .read_bytes())
    assert adapter_format(half) is None


def test_unknown_config_is_not_an_adapter(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"something": 1}))
    (tmp_path / "adapters.safetensors").write_bytes(b"")
    assert adapter_format(tmp_path) is None


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\xff"])
def test_broken_config_names_the_folder_and_the_fix(tmp_path, content):
    (tmp_path / "adapter_config.json").write_text(content, encoding="latin-1")
    with pytest.raises(ModelError, match=f"{tmp_path}.*delete"):
        adapter_format(tmp_path)


def test_peft_to_mlx_transposes_and_scales(adapters, tmp_path):
    out = peft_to_mlx(adapters["peft"], tmp_path / "mlx", num_hidden_layers=30)
    assert adapter_format(out) == "mlx"
    config = read_json(out / "adapter_config.json")
    assert config["num_layers"] == 2
    assert config["lora_parameters"]["keys"] == ["self_attn.q_proj", "self_attn.v_proj"]
    assert config["lora_parameters"]["scale"] == 2.0  # lora_alpha 8 / r 4
    src = load_file(str(adapters["peft"] / "adapter_model.safetensors"))
    dst = load_file(str(out / "adapters.safetensors"))
    assert len(dst) == len(src) == 2 * 2 * 2  # 2 layers x q,v x A,B
    a = src["base_model.model.model.layers.29.self_attn.v_proj.lora_A.weight"]
    b = src["base_model.model.model.layers.29.self_attn.v_proj.lora_B.weight"]
    assert np.array_equal(dst["model.layers.29.self_attn.v_proj.lora_a"], a.T)
    assert np.array_equal(dst["model.layers.29.self_attn.v_proj.lora_b"], b.T)
    assert np.abs(b).sum() > 0


def test_peft_to_mlx_refuses_layers_mlx_cannot_express(model_folder, tmp_path):
    middle = make_peft_adapter(model_folder, tmp_path / "peft", layers=[3, 4])
    with pytest.raises(ModelError, match=r"layers \[3, 4\].*last N of the model's 30"):
        peft_to_mlx(middle, tmp_path / "mlx", num_hidden_layers=30)
    assert not (tmp_path / "mlx").exists()


def test_peft_to_mlx_needs_a_peft_adapter(adapters, tmp_path):
    with pytest.raises(ModelError, match="no peft adapter"):
        peft_to_mlx(adapters["mlx"], tmp_path / "out", num_hidden_layers=30)


def test_mlx_to_peft_inverts_peft_to_mlx_and_gives_the_same_model(adapters, model_folder,
                                                                   tmp_path):
    import torch

    from persona.core.train.lora import merged_model

    mlx = peft_to_mlx(adapters["peft"], tmp_path / "mlx", num_hidden_layers=30)
    back = mlx_to_peft(mlx, tmp_path / "peft", num_hidden_layers=30)
    assert adapter_format(back) == "peft"
    src = load_file(str(adapters["peft"] / "adapter_model.safetensors"))
    dst = load_file(str(back / "adapter_model.safetensors"))
    assert src.keys() == dst.keys() and all(np.array_equal(src[k], dst[k]) for k in src)
    config = read_json(back / "adapter_config.json")
    assert (config["r"], config["lora_alpha"], config["layers_to_transform"]) == (4, 8.0, [28, 29])

    ids = torch.tensor([[1, 422, 1003, 45, 87, 12]])
    with torch.inference_mode():
        logits = [merged_model(model_folder, a)[0](input_ids=ids).logits
                  for a in (adapters["peft"], back)]
    assert torch.allclose(logits[0], logits[1], atol=1e-5)


def test_mlx_to_peft_needs_an_mlx_adapter(adapters, tmp_path):
    with pytest.raises(ModelError, match="no mlx-lm adapter"):
        mlx_to_peft(adapters["peft"], tmp_path / "out", num_hidden_layers=30)
