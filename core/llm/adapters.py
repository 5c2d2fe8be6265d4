"""Where the person's LoRA adapter is, and in which format.

peft (torch) and mlx-lm each save a LoRA adapter as a folder, and both call their config
``adapter_config.json``, so one folder holds one format. The trainer writes each format into
its own subfolder of ``Home.adapter_dir``::

    adapters/current/peft/   adapter_config.json (peft_type) + adapter_model.safetensors
    adapters/current/mlx/    adapter_config.json (lora_parameters) + adapters.safetensors

An adapter saved directly in ``adapters/current/`` is found as well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from persona.core.errors import ModelError

AdapterFormat = Literal["peft", "mlx"]
CONFIG = "adapter_config.json"
WEIGHTS = {"peft": ("adapter_model.safetensors", "adapter_model.bin"),
           "mlx": ("adapters.safetensors",)}


def adapter_format(folder: Path | None) -> AdapterFormat | None:
    """"peft" or "mlx" when ``folder`` holds a complete adapter of that format, else None.

    Raises ModelError when the folder has an adapter config that cannot be read.
    """
    if folder is None:
        return None
    folder = Path(folder)
    config_file = folder / CONFIG
    if not config_file.is_file():
        return None
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"The adapter config {config_file} cannot be read ({exc}); delete "
                         f"{folder} to run without the adapter, or train it again.") from exc
    if not isinstance(config, dict):
        raise ModelError(f"The adapter config {config_file} is not a JSON object; delete "
                         f"{folder} to run without the adapter, or train it again.")
    if "peft_type" in config:
        fmt: AdapterFormat = "peft"
    elif "lora_parameters" in config or "fine_tune_type" in config:
        fmt = "mlx"
    else:
        return None
    return fmt if any((folder / w).is_file() for w in WEIGHTS[fmt]) else None


def find_adapter(adapter_dir: Path | None, fmt: AdapterFormat) -> Path | None:
    """The folder of the ``fmt`` adapter under ``adapter_dir`` (itself or its ``fmt``
    subfolder), or None when there is none."""
    if adapter_dir is None:
        return None
    for folder in (Path(adapter_dir) / fmt, Path(adapter_dir)):
        if adapter_format(folder) == fmt:
            return folder
    return None


def plain_lora(src: Path, target: str) -> tuple[int, float]:
    """``(rank, scale)`` of the plain peft LoRA adapter in ``src`` (its update is
    ``scale * B(A(x))``); ModelError when it is missing or uses what ``target`` (the format
    it is converted to) cannot express."""
    if adapter_format(src) != "peft":
        raise ModelError(f"{src} holds no peft adapter (adapter_config.json with peft_type "
                         "and adapter_model.safetensors); train one first.")
    config = json.loads((src / CONFIG).read_text(encoding="utf-8"))
    unsupported = [k for k in ("use_dora", "rank_pattern", "alpha_pattern") if config.get(k)]
    if config.get("bias", "none") != "none":
        unsupported.append("bias")
    if config.get("peft_type") != "LORA" or unsupported:
        raise ModelError(f"{src} uses {config.get('peft_type')} {unsupported or ''}, which "
                         f"{target} adapters cannot express; train plain LoRA (no DoRA, bias "
                         "or per-layer ranks).")
    r = int(config["r"])
    alpha = float(config.get("lora_alpha", r))
    return r, alpha / (r ** 0.5 if config.get("use_rslora") else r)


def peft_to_mlx(src: Path, dest: Path, *, num_hidden_layers: int) -> Path:
    """Write the peft LoRA adapter in ``src`` as an mlx-lm adapter in ``dest``.

    The same low-rank update in mlx-lm's layout: peft computes ``(alpha/r) * B(A(x))`` with
    ``A: [r, in]`` and ``B: [out, r]``; mlx-lm computes ``scale * (x @ a) @ b`` with
    ``a: [in, r]`` and ``b: [r, out]``. So ``a = A.T``, ``b = B.T``, ``scale = alpha / r``.
    mlx-lm adapts the last ``num_layers`` blocks, so peft's layers must be such a tail.
    """
    from safetensors.numpy import load_file, save_file

    src, dest = Path(src), Path(dest)
    r, scale = plain_lora(src, "mlx-lm")
    weights, layers, keys = {}, set(), set()
    for name, w in load_file(str(src / "adapter_model.safetensors")).items():
        # "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"
        path, kind = name.removeprefix("base_model.model.").rsplit(".lora_", 1)
        parts = path.split(".")
        if "layers" not in parts:
            raise ModelError(f"{src} adapts {path}, outside the transformer blocks; mlx-lm "
                             "adapters cannot express that.")
        i = parts.index("layers")
        layers.add(int(parts[i + 1]))
        keys.add(".".join(parts[i + 2:]))
        weights[f"{path}.lora_{kind[0].lower()}"] = w.T.copy()
    first = num_hidden_layers - len(layers)
    if layers != set(range(first, num_hidden_layers)):
        raise ModelError(f"{src} adapts layers {sorted(layers)}, but mlx-lm adapts only the "
                         f"last N of the model's {num_hidden_layers}; train a tail of layers.")
    dest.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(dest / "adapters.safetensors"))
    mlx_config = {"fine_tune_type": "lora", "num_layers": len(layers),
                  "lora_parameters": {"rank": r, "scale": scale, "dropout": 0.0,
                                      "keys": sorted(keys)}}
    (dest / CONFIG).write_text(json.dumps(mlx_config, indent=2), encoding="utf-8")
    return dest


def mlx_to_peft(src: Path, dest: Path, *, num_hidden_layers: int) -> Path:
    """Write the mlx-lm LoRA adapter in ``src`` as a peft adapter in ``dest`` (the inverse of
    ``peft_to_mlx``: ``A = a.T``, ``B = b.T``, ``lora_alpha = scale * r``), so a persona
    trained on a Mac runs with torch."""
    from safetensors.numpy import load_file, save_file

    src, dest = Path(src), Path(dest)
    if adapter_format(src) != "mlx":
        raise ModelError(f"{src} holds no mlx-lm adapter (adapter_config.json with "
                         "lora_parameters and adapters.safetensors); train one first.")
    config = json.loads((src / CONFIG).read_text(encoding="utf-8"))
    if config.get("fine_tune_type", "lora") != "lora":
        raise ModelError(f"{src} is a {config['fine_tune_type']} adapter; only plain LoRA "
                         "converts to peft.")
    params = config["lora_parameters"]
    r, num_layers = int(params["rank"]), int(config["num_layers"])
    weights, keys = {}, set()
    for name, w in load_file(str(src / "adapters.safetensors")).items():
        # "model.layers.29.self_attn.v_proj.lora_a" → "...v_proj.lora_A.weight"
        path, kind = name.rsplit(".lora_", 1)
        parts = path.split(".")
        keys.add(".".join(parts[parts.index("layers") + 2:]))
        weights[f"base_model.model.{path}.lora_{kind.upper()}.weight"] = w.T.copy()
    first = num_hidden_layers - num_layers
    dest.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(dest / "adapter_model.safetensors"))
    peft_config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r,
                   "lora_alpha": float(params["scale"]) * r, "lora_dropout": 0.0,
                   "bias": "none", "target_modules": sorted(keys), "inference_mode": True,
                   "layers_to_transform": list(range(first, num_hidden_layers))}
    (dest / CONFIG).write_text(json.dumps(peft_config, indent=2), encoding="utf-8")
    return dest
