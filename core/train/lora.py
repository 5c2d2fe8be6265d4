"""LoRA on the base model for training on torch (peft), and saving the adapter.

The base model is loaded in float32 (per-example gradients and clipping need the precision)
and frozen; only the LoRA matrices train. A new adapter starts as peft starts it (A random,
B zero, so the first model equals the base); continuing from an earlier adapter loads it
trainable, with its own rank and targets. The adapter is saved in peft's format, which
``persona.core.llm.torch_backend`` loads and ``persona.core.llm.adapters.peft_to_mlx`` converts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from persona.core.atomic import replace_folder
from persona.core.errors import ModelError
from persona.core.llm.adapters import WEIGHTS, find_adapter
from persona.core.llm.models import validate_model_folder
from persona.core.train.config import LoRAConfig

# peft 0.13.2 (pinned for opacus issue #820) calls a transformers API deprecated in v5.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*",
                        category=FutureWarning)
log = logging.getLogger(__name__)


def load_base(model_folder: Path):
    """(model, tokenizer) of the HF folder ``model_folder``: float32, frozen, offline."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = validate_model_folder(model_folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                     local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"Cannot load the language model in {folder} ({exc}); check the "
                         "'llm_model' setting.") from exc
    model.requires_grad_(False)
    return model, tokenizer


def merged_model(model_folder: Path, adapter: Path | None):
    """(model in eval mode, tokenizer): the base model, with the peft adapter in ``adapter``
    merged into its weights if given (for evaluation: as fast as the base model)."""
    model, tokenizer = load_base(model_folder)
    if adapter is not None:
        from peft import PeftModel

        path = peft_adapter_path(adapter)
        try:
            model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"The adapter in {path} does not fit the model in {model_folder} "
                             f"({exc}); evaluate it with the model it was trained on.") from exc
    model.eval()
    return model, tokenizer


def peft_adapter_path(adapter: Path) -> Path:
    """The peft adapter folder in ``adapter`` (itself or its ``peft/``), else ModelError."""
    found = find_adapter(Path(adapter), "peft")
    if found is None:
        raise ModelError(f"{adapter} holds no peft adapter (adapter_config.json with peft_type "
                         "and adapter_model.safetensors); give the folder of a torch-trained "
                         "adapter, or start without one.")
    return found


def lora_model(model_folder: Path, lora: LoRAConfig, *, init_adapter: Path | None = None,
               seed: int = 0):
    """(peft model with trainable LoRA weights, tokenizer) for ``model_folder``.

    With ``init_adapter`` the model continues from that adapter (its rank and targets win
    over ``lora``); else a fresh LoRA from ``lora``, initialised from ``seed``.
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    # Bad arguments fail before the model is read (which takes seconds).
    path = peft_adapter_path(init_adapter) if init_adapter is not None else None
    if path is None and lora.layers is not None:
        _last_layers(validate_model_folder(model_folder), lora.layers)
    model, tokenizer = load_base(model_folder)
    try:
        if path is not None:
            model = PeftModel.from_pretrained(model, str(path), is_trainable=True)
            log.info("Continuing from the adapter in %s", path)
        else:
            config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                target_modules=list(lora.target_modules), bias="none",
                                layers_to_transform=_last_layers(model_folder, lora.layers),
                                task_type="CAUSAL_LM")
            # A private RNG: the LoRA initialisation must not disturb anyone's global seed.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = get_peft_model(model, config)
    except (ValueError, KeyError, RuntimeError) as exc:
        what = f"the adapter in {init_adapter}" if init_adapter is not None else \
            f"LoRA on {list(lora.target_modules)} (rank {lora.rank})"
        raise ModelError(f"Cannot apply {what} to the model in {model_folder} ({exc}); "
                         "check the LoRA target modules, or train a new adapter.") from exc
    named = trainable_parameters(model)
    stray = [name for name, _ in named if ".lora_" not in name]
    if stray or not named:
        raise ModelError(f"The adapter would train {stray or 'nothing'}, not just LoRA "
                         "matrices; DP training here supports plain LoRA adapters only.")
    model.train()  # peft's dropout (if any) follows the mode; nothing else does
    return model, tokenizer


def _last_layers(model_folder: Path, layers: int | None) -> list[int] | None:
    """The indices of the last ``layers`` transformer blocks (None: every block)."""
    if layers is None:
        return None
    config = json.loads((Path(model_folder) / "config.json").read_text(encoding="utf-8"))
    total = int(config.get("num_hidden_layers", 0))
    if not 1 <= layers <= total:
        raise ModelError(f"Requested to train {layers} layers but the model only has {total}; "
                         f"set LoRA layers between 1 and {total}, or None for all.")
    return list(range(total - layers, total))


def trainable_parameters(model) -> list[tuple[str, torch.nn.Parameter]]:
    """The (name, parameter) pairs that train: the LoRA A and B matrices."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def lora_description(lora: LoRAConfig) -> dict:
    """``lora`` as plain JSON data (for a checkpoint's run identity)."""
    out = asdict(lora)
    out["target_modules"] = list(lora.target_modules)
    return out


def adapter_digest(adapter: Path | None) -> str | None:
    """SHA-256 of the peft adapter's weights in ``adapter`` (None for no adapter)."""
    if adapter is None:
        return None
    path = peft_adapter_path(adapter)
    weights = next(path / w for w in WEIGHTS["peft"] if (path / w).is_file())
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def save_adapter(model, out_dir: Path) -> Path:
    """Save the LoRA adapter of ``model`` into ``out_dir`` (peft format), atomically.

    It is written into a temporary sibling folder and renamed into place
    (``persona.core.atomic.replace_folder``); an existing ``out_dir`` is replaced only once the new
    adapter is complete.
    """
    def write(folder: Path) -> None:
        model.save_pretrained(str(folder), safe_serialization=True)
        (folder / "README.md").unlink(missing_ok=True)  # peft's empty model card says nothing

    return replace_folder(out_dir, write)
