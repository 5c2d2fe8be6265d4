"""The MLX backend on the real bundled model, on Linux CPU through mlx[cpu].

MLX on Linux reads prompts at about 3 tokens/s here (its CPU build uses the reference BLAS),
so these tests use few, short generations.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from persona.core.llm.adapters import peft_to_mlx
from persona.core.llm.backend import GenerationOptions
from persona.core.llm.mlx_backend import MLXBackend, config_fixes
from tests.core.llm.conftest import FRANCE, SHORT, make_mlx_adapter, make_peft_adapter

pytest.importorskip("mlx_lm")


def test_config_fixes_flattens_rope_theta():
    assert config_fixes({"rope_parameters": {"rope_theta": 1e5, "rope_type": "default"}}) == {
        "rope_theta": 1e5}
    assert config_fixes({"rope_theta": 5.0, "rope_parameters": {"rope_theta": 1e5}}) == {}
    assert config_fixes({}) == {}


@pytest.fixture(scope="module")
def base(model_folder):
    return MLXBackend(model_folder)


@pytest.fixture(scope="module")
def torch_base(model_folder):
    from persona.core.llm.torch_backend import TorchBackend

    return TorchBackend(model_folder)


@pytest.mark.slow
def test_capital_of_france(base):
    pieces = list(base.stream_chat(FRANCE, GenerationOptions(max_new_tokens=12)))
    assert "Paris" in "".join(pieces)
    assert len(pieces) > 3
    assert not base.adapter_loaded


@pytest.mark.slow
def test_same_model_as_torch(base, torch_base):
    # Also proves the rope_theta fix: without it the first token already differs.
    want, got = torch_base.next_token_logits(SHORT), base.next_token_logits(SHORT)
    assert base.encode(SHORT) == torch_base.encode(SHORT)
    assert int(got.argmax()) == int(want.argmax())
    assert np.abs(got - want).max() < 1e-2


@pytest.mark.slow
def test_max_tokens_and_stop(base, torch_base):
    reply = base.chat(SHORT, GenerationOptions(max_new_tokens=6))
    assert reply == torch_base.chat(SHORT, GenerationOptions(max_new_tokens=6))  # same greedy
    assert len(base.tokenizer.encode(reply, add_special_tokens=False)) <= 6
    word = reply.split()[1]
    cut = base.chat(SHORT, GenerationOptions(max_new_tokens=6, stop=[word]))
    assert cut == reply[:reply.index(word)]


@pytest.mark.slow
def test_mlx_adapter_is_loaded_and_changes_the_model(base, model_folder, tmp_path):
    current = tmp_path / "current"
    make_mlx_adapter(model_folder, current / "mlx", num_layers=4)
    tuned = MLXBackend(model_folder, current)
    assert tuned.adapter_loaded and tuned.adapter_path == current / "mlx"
    got, want = tuned.next_token_logits(SHORT), base.next_token_logits(SHORT)
    assert np.isfinite(got).all() and np.abs(got - want).max() > 0.1


@pytest.mark.slow
def test_converted_peft_adapter_computes_what_torch_computes(model_folder, tmp_path,
                                                             torch_base):
    from persona.core.llm.torch_backend import TorchBackend

    current = tmp_path / "current"
    make_peft_adapter(model_folder, current / "peft", layers=list(range(26, 30)))
    config = json.loads((model_folder / "config.json").read_text())
    peft_to_mlx(current / "peft", current / "mlx",
                num_hidden_layers=config["num_hidden_layers"])
    torch_tuned = TorchBackend(model_folder, current)
    mlx_tuned = MLXBackend(model_folder, current)
    want, got = torch_tuned.next_token_logits(SHORT), mlx_tuned.next_token_logits(SHORT)
    assert np.abs(want - torch_base.next_token_logits(SHORT)).max() > 0.1  # it matters
    assert np.abs(got - want).max() < 1e-2
