"""Which base model the person's adapter was trained for, and whether it fits the one in use.

A LoRA adapter only means something on the base model it was trained on: on another model
its shapes do not fit (llama.cpp refuses it, so the model would not load) or, worse, they fit
and add noise. When the selected model changes (``persona models use``, the app's Settings,
a new default), the adapter of the old one is skipped with a note ("your adapter was trained
for smollm2-135m; it is not used with qwen2.5-coder-0.5b; train again"), and training starts
from the new base model instead of continuing from it.

The adapter's ``meta.json`` records the base model's catalog name and the sha256 of its
GGUF at promotion (``base_model``, ``base_sha256``). An older adapter without them is taken
as trained for the model its peft weights' width says (hidden size 576: SmolLM2-135M, 896:
Qwen2.5-0.5B, 1536: Qwen2.5-1.5B), else for SmolLM2-135M, the only default before.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from persona.core.llm.adapters import find_adapter

log = logging.getLogger(__name__)

OLD_DEFAULT = "smollm2-135m"  # the default language model of every adapter without a record
# Hidden size -> catalog model, for adapters promoted before the base was recorded.
HIDDEN_SIZES = {576: "smollm2-135m", 896: "qwen2.5-coder-0.5b", 1536: "qwen2.5-coder-1.5b"}


@dataclass(frozen=True)
class AdapterFit:
    """The adapter to apply (None: the base model alone) and, when the person's adapter is
    skipped, why."""

    adapter_dir: Path | None
    note: str | None = None
    trained_for: str | None = None  # the catalog name it was trained for, when known


def base_record(settings) -> dict[str, str | None]:
    """``base_model`` and ``base_sha256`` for a new adapter's meta.json: the selected catalog
    model (None for both with ``llm_model``, a folder of the person's own)."""
    if settings.llm_model:
        return {"base_model": None, "base_sha256": None}
    from persona.core.models.files import selected_llm

    spec = selected_llm(settings)
    return {"base_model": spec.name, "base_sha256": spec.sha256}


def adapter_fit(settings, adapter_dir: Path | None) -> AdapterFit:
    """Whether the adapter in ``adapter_dir`` (``Home.adapter_dir``) fits the language model
    the settings select; a model folder of the person's own (``llm_model``) is trusted."""
    if adapter_dir is None or not Path(adapter_dir).is_dir():
        return AdapterFit(None)
    if settings.llm_model:
        return AdapterFit(Path(adapter_dir))
    from persona.core.models.files import selected_llm

    spec = selected_llm(settings)
    name, sha = trained_for(Path(adapter_dir))
    if (sha == spec.sha256) if sha else (name == spec.name):
        return AdapterFit(Path(adapter_dir), trained_for=name)
    note = (f"your adapter was trained for {name or 'another model'}; it is not used with "
            f"{spec.name}; train again (`persona train`) to make one for it")
    return AdapterFit(None, note=note, trained_for=name)


def trained_for(version_dir: Path) -> tuple[str | None, str | None]:
    """(catalog name, GGUF sha256) of the base model the adapter in ``version_dir`` was
    trained for; the sha256 is None for an adapter promoted before it was recorded."""
    try:
        meta = json.loads((version_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    if isinstance(meta, dict) and meta.get("base_sha256"):
        return meta.get("base_model"), meta["base_sha256"]
    hidden = _hidden_size(version_dir)
    return HIDDEN_SIZES.get(hidden, OLD_DEFAULT), None


def _hidden_size(version_dir: Path) -> int | None:
    """The input width of the peft adapter's first q_proj LoRA A (its base model's hidden
    size), read from the safetensors header only; None when there is no peft adapter."""
    try:
        folder = find_adapter(version_dir, "peft")
    except Exception:  # noqa: BLE001 - an unreadable config: no width to go by
        return None
    weights = folder / "adapter_model.safetensors" if folder else None
    if weights is None or not weights.is_file():
        return None
    try:
        with open(weights, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(min(size, 10_000_000)))
    except (OSError, ValueError, struct.error):
        return None
    for key, value in sorted(header.items()):
        if "q_proj" in key and "lora_A" in key and isinstance(value, dict):
            shape = value.get("shape") or []
            if len(shape) == 2:
                return int(shape[1])
    return None
