"""LoRA on the base model for training on MLX (mlx-lm's own LoRA layers), and saving it.

The base model is loaded exactly as ``persona.core.llm.mlx_backend.MLXBackend`` loads it (same
``config_fixes``), so the model that trains is the model that later runs with the adapter.
A new adapter starts as mlx-lm starts one (A uniform in ±1/√in, B zero: the first model
equals the base), drawn from ``LoRAConfig``'s seed; continuing from an earlier adapter loads
it trainable with its own rank, scale, layers and targets. The adapter is saved the way
mlx-lm's trainer saves it (``adapters.safetensors`` + ``adapter_config.json``), which
``MLXBackend`` loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from persona.core.atomic import replace_folder
from persona.core.errors import ModelError
from persona.core.llm.adapters import CONFIG, find_adapter, peft_to_mlx
from persona.core.llm.mlx_backend import config_fixes
from persona.core.llm.models import validate_model_folder
from persona.core.train.config import LoRAConfig

log = logging.getLogger(__name__)

WEIGHTS = "adapters.safetensors"


@dataclass(frozen=True)
class AdapterSpec:
    """What mlx-lm needs to rebuild the LoRA layers: ``adapter_config.json``'s content."""

    num_layers: int  # the last ``num_layers`` blocks are adapted
    rank: int
    scale: float  # mlx-lm's scale = peft's alpha / rank
    keys: tuple[str, ...]  # module paths inside a block, e.g. "self_attn.q_proj"

    def to_config(self) -> dict:
        return {"fine_tune_type": "lora", "num_layers": self.num_layers,
                "lora_parameters": {"rank": self.rank, "scale": self.scale, "dropout": 0.0,
                                    "keys": list(self.keys)}}


def load_base(model_folder: Path):
    """(model, tokenizer) of ``model_folder`` as MLXBackend loads them, all weights frozen."""
    import mlx_lm

    folder = validate_model_folder(model_folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    try:
        model, tokenizer = mlx_lm.load(str(folder), model_config=config_fixes(config))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"mlx-lm cannot load the language model in {folder} ({exc}); check "
                         "the 'llm_model' setting.") from exc
    model.freeze()
    return model, tokenizer


def lora_spec(model, lora: LoRAConfig) -> AdapterSpec:
    """The mlx-lm adapter layout that ``lora`` asks for on ``model`` (checked against it)."""
    import mlx.nn as nn

    total = len(model.layers)
    layers = total if lora.layers is None else lora.layers
    if not 1 <= layers <= total:
        raise ModelError(f"Requested to train {layers} layers but the model only has {total}; "
                         f"set LoRA layers between 1 and {total}, or None for all.")
    if lora.dropout:
        raise ModelError(f"LoRA dropout {lora.dropout} would make each example's gradient "
                         "depend on random masks shared across the batch; set it to 0.")
    if lora.rank < 1:
        raise ModelError(f"LoRA rank must be at least 1, not {lora.rank}.")
    linears = [name for name, m in model.layers[-1].named_modules()
               if isinstance(m, nn.Linear)]
    keys = tuple(sorted(name for name in linears if name.split(".")[-1] in lora.target_modules))
    missing = sorted(set(lora.target_modules) - {k.split(".")[-1] for k in keys})
    if missing:
        short = sorted({n.split(".")[-1] for n in linears})
        raise ModelError(f"The model has no linear layer named {missing} to put LoRA on; "
                         f"choose target modules among {short}.")
    return AdapterSpec(num_layers=layers, rank=lora.rank, scale=lora.alpha / lora.rank,
                       keys=keys)


def apply_lora(model, lora: LoRAConfig, *, seed: int = 0) -> AdapterSpec:
    """Put fresh LoRA layers on ``model`` (frozen base) as ``lora`` says; A is drawn from
    ``seed`` with a private key, so nobody's global MLX random state is touched."""
    import mlx.core as mx
    from mlx_lm.tuner.lora import LoRALinear
    from mlx_lm.tuner.utils import linear_to_lora_layers

    spec = lora_spec(model, lora)
    linear_to_lora_layers(model, spec.num_layers, spec.to_config()["lora_parameters"])
    modules = [m for _, m in model.named_modules() if isinstance(m, LoRALinear)]
    keys = mx.random.split(mx.random.key(seed), len(modules))
    for module, key in zip(modules, keys, strict=True):
        bound = 1 / module.lora_a.shape[0] ** 0.5  # as LoRALinear draws it
        module.lora_a = mx.random.uniform(-bound, bound, module.lora_a.shape, key=key)
    return spec


def continue_lora(model, adapter: Path, scratch: Path) -> AdapterSpec:
    """Load the adapter in ``adapter`` onto ``model``, trainable; its layout wins.

    An mlx-lm adapter is used as it is; a peft one (a torch-trained adapter) is converted
    into ``scratch`` first, which is the same low-rank update.
    """
    from mlx_lm.tuner.lora import LoRALinear
    from mlx_lm.tuner.utils import load_adapters

    path = find_adapter(Path(adapter), "mlx")
    if path is None:
        peft = find_adapter(Path(adapter), "peft")
        if peft is None:
            raise ModelError(f"{adapter} holds no mlx-lm or peft adapter; give the folder of "
                             "a trained adapter, or start without one.")
        path = peft_to_mlx(peft, Path(scratch), num_hidden_layers=len(model.layers))
    config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    params = config.get("lora_parameters") or {}
    if config.get("fine_tune_type", "lora") != "lora" or params.get("dropout", 0.0):
        raise ModelError(f"{path} is a {config.get('fine_tune_type')} adapter with dropout "
                         f"{params.get('dropout')}; DP training continues plain LoRA without "
                         "dropout only. Start a new adapter instead.")
    try:
        load_adapters(model, str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"The adapter in {path} does not fit the model ({exc}); start a new "
                         "adapter instead.") from exc
    log.info("Continuing from the adapter in %s", path)
    # mlx-lm reads absent keys as "every linear layer": name what was really adapted.
    keys = tuple(sorted(name for name, m in model.layers[-1].named_modules()
                        if isinstance(m, LoRALinear)))
    return AdapterSpec(num_layers=int(config["num_layers"]), rank=int(params["rank"]),
                       scale=float(params["scale"]), keys=keys)


def lora_parameters(model) -> dict:
    """The trainable LoRA matrices of ``model`` as a flat {name: array} dict."""
    from mlx.utils import tree_flatten

    flat = dict(tree_flatten(model.trainable_parameters()))
    stray = [name for name in flat if name.rsplit(".", 1)[-1] not in ("lora_a", "lora_b")]
    if stray or not flat:
        raise ModelError(f"The adapter would train {stray or 'nothing'}, not just LoRA "
                         "matrices; DP training here supports plain LoRA adapters only.")
    return flat


def adapter_digest(adapter: Path | None) -> str | None:
    """SHA-256 of the adapter weights in ``adapter`` (mlx-lm or peft), None for none."""
    if adapter is None:
        return None
    for fmt, name in (("mlx", WEIGHTS), ("peft", "adapter_model.safetensors")):
        path = find_adapter(Path(adapter), fmt)
        if path is not None and (path / name).is_file():
            return hashlib.sha256((path / name).read_bytes()).hexdigest()
    raise ModelError(f"{adapter} holds no mlx-lm or peft adapter; give the folder of a trained "
                     "adapter, or start without one.")


def save_adapter(params: dict, spec: AdapterSpec, out_dir: Path) -> Path:
    """Save the LoRA matrices ``params`` (flat names) as an mlx-lm adapter in ``out_dir``.

    Written into a temporary sibling folder and renamed into place
    (``persona.core.atomic.replace_folder``); an existing ``out_dir`` is replaced only once the new
    adapter is complete.
    """
    import mlx.core as mx

    def write(folder: Path) -> None:
        mx.save_safetensors(str(folder / WEIGHTS), dict(params))
        (folder / CONFIG).write_text(json.dumps(spec.to_config(), indent=2), encoding="utf-8")

    return replace_folder(out_dir, write)
