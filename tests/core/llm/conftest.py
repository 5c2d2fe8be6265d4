"""Shared by the language-model tests: the converted bundled model and small adapters.

The conversion runs once for all test runs (the PERSONA_CACHE of tests/conftest.py);
the adapters are made with the libraries' own LoRA code on a model of the real shapes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona.core.llm.models import ensure_model_folder
from persona.core.paths import Home
from persona.core.settings import Settings

# The tests that convert the model to float32, train it or run it on torch/MLX use SmolLM2-135M
# whatever the default is (core/models/catalog.py DEFAULT_LLM): its conversion is 0.5 GB and
# trains ~4x faster than Qwen2.5-Coder-0.5B's 2.5 GB, which keeps the suite within its time
# on 2 cores. The tests of replies on llama.cpp (the product's path) use the default.
FAST_LLM = "smollm2-135m"

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
# A system message keeps the prompt short (no default system prompt): MLX on Linux reads
# the prompt at about 3 tokens/s, so short prompts keep its tests fast.
SHORT = [{"role": "system", "content": "Be brief."},
         {"role": "user", "content": "Tell me a story about a cat."}]


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory) -> Path:
    """FAST_LLM, converted (once) into the shared model cache."""
    home = Home.resolve(tmp_path_factory.mktemp("llm-home"))
    return ensure_model_folder(Settings(llm=FAST_LLM), home)


def use_fast_llm(root: Path) -> None:
    """Make the home at ``root`` choose FAST_LLM (its settings file, other settings kept), for
    tests that train: run_training and `persona train` convert the home's selected model."""
    from persona.core.settings import load_settings, save_settings

    path = Home.resolve(root).ensure().settings_file
    save_settings(load_settings(path).model_copy(update={"llm": FAST_LLM}), path)


def make_peft_adapter(model_folder: Path, out: Path, *, layers: list[int] | None = None,
                      seed: int = 0) -> Path:
    """A random peft LoRA adapter (r=4 on q/v, non-zero B) for ``model_folder``'s shapes."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    # Random base weights are fine: the adapter holds only the A and B matrices.
    base = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_folder))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                        layers_to_transform=layers, lora_dropout=0.0,
                        init_lora_weights=False)  # False: B is random, not zero
    get_peft_model(base, config).save_pretrained(out)
    return out


def make_mlx_adapter(model_folder: Path, out: Path, *, num_layers: int = 4) -> Path:
    """A random mlx-lm LoRA adapter, made and saved the way mlx_lm.tuner does."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.tuner.lora import LoRALinear
    from mlx_lm.tuner.utils import linear_to_lora_layers
    from mlx_lm.utils import load_model, save_config

    mx.random.seed(0)
    model, _ = load_model(model_folder, lazy=True)  # lazy: the base weights are not read
    model.freeze()
    params = {"rank": 4, "scale": 2.0, "dropout": 0.0,
              "keys": ["self_attn.q_proj", "self_attn.v_proj"]}
    linear_to_lora_layers(model, num_layers, params)
    for _, module in model.named_modules():
        if isinstance(module, LoRALinear):  # B starts at zero; make it matter
            module.lora_b = mx.random.normal(module.lora_b.shape) * 0.05
    out.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(out / "adapters.safetensors"),
                        dict(tree_flatten(model.trainable_parameters())))
    save_config({"fine_tune_type": "lora", "num_layers": num_layers,
                 "lora_parameters": params}, out / "adapter_config.json")
    return out


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
