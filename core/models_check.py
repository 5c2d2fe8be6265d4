"""Is this folder a model Persona can load? Cheap structural checks, before a setting is saved.

Loading a model takes seconds and fails in library-specific ways; looking at the files
takes milliseconds and gives a message that names the missing file. `persona settings set`
and the app's Settings view both call :func:`check_model_setting` before saving, so a folder
that is not a model never reaches settings.yaml.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from persona.core.errors import ModelError

# setting -> what a person calls that model
MODEL_SETTINGS = {
    "asr_model": "speech-to-text (CTranslate2 Whisper)",
    "embed_model": "embedding (sentence-transformers)",
    "llm_model": "language model (Hugging Face or MLX)",
}
_TOKENIZERS = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
_GENERATORS = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def _fix(key: str) -> str:
    return f"choose another folder for '{key}', or leave it empty to use the bundled model"


def _folder(key: str, path: str | os.PathLike[str]) -> Path:
    folder = Path(path).expanduser()
    if not folder.exists():
        raise ModelError(f"{folder} does not exist; {_fix(key)}.")
    if not folder.is_dir():
        raise ModelError(f"{folder} is a file, not a model folder; {_fix(key)}.")
    return folder


def _json(folder: Path, name: str, what: str, key: str) -> dict:
    path = folder / name
    if not path.is_file():
        raise ModelError(f"{folder} has no {name}, so it is not a {what} folder; {_fix(key)}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} cannot be read as JSON ({exc}); {_fix(key)}.") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a JSON object; {_fix(key)}.")
    return data


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or (folder / "pytorch_model.bin").is_file()


def check_asr_folder(path: str | os.PathLike[str]) -> Path:
    """A CTranslate2 Whisper folder: model.bin, a Whisper config.json, tokenizer, vocabulary."""
    key, what = "asr_model", "CTranslate2 Whisper model"
    folder = _folder(key, path)
    if not (folder / "model.bin").is_file():
        hint = (" (it looks like a Hugging Face model: convert it with "
                "`ct2-transformers-converter`)" if _has_weights(folder) else "")
        raise ModelError(f"{folder} has no model.bin, so it is not a {what} folder{hint}; "
                         f"{_fix(key)}.")
    config = _json(folder, "config.json", what, key)
    if "suppress_ids" not in config and "alignment_heads" not in config:
        raise ModelError(f"{folder}/config.json is not a Whisper config (no suppress_ids or "
                         f"alignment_heads); {_fix(key)}.")
    if not (folder / "tokenizer.json").is_file():
        raise ModelError(f"{folder} has no tokenizer.json; {_fix(key)}.")
    if not any(folder.glob("vocabulary.*")):
        raise ModelError(f"{folder} has no vocabulary.txt or vocabulary.json; {_fix(key)}.")
    return folder


def check_embed_folder(path: str | os.PathLike[str]) -> Path:
    """A sentence-transformers folder: modules.json, the transformer's config, tokenizer and
    weights."""
    key, what = "embed_model", "sentence-transformers model"
    folder = _folder(key, path)
    modules = (folder / "modules.json")
    if not modules.is_file():
        raise ModelError(f"{folder} has no modules.json, so it is not a {what} folder; "
                         f"{_fix(key)}.")
    _json(folder, "config.json", what, key)
    if not any((folder / name).is_file() for name in _TOKENIZERS + ("vocab.txt",)):
        raise ModelError(f"{folder} has no tokenizer (tokenizer.json or vocab.txt); "
                         f"{_fix(key)}.")
    if not _has_weights(folder):
        raise ModelError(f"{folder} has no weights (*.safetensors or pytorch_model.bin); "
                         f"{_fix(key)}.")
    return folder


def check_llm_folder(path: str | os.PathLike[str]) -> Path:
    """A Hugging Face or MLX causal language model: config.json with a model type, a
    tokenizer, and weights."""
    key, what = "llm_model", "Hugging Face or MLX model"
    folder = _folder(key, path)
    config = _json(folder, "config.json", what, key)
    if "model_type" not in config and "architectures" not in config:
        raise ModelError(f"{folder}/config.json names no model_type, so it is not a {what} "
                         f"config; {_fix(key)}.")
    archs = config.get("architectures") or []
    if archs and not any(a.endswith(_GENERATORS) for a in archs):
        raise ModelError(f"{folder} holds a {', '.join(archs)}, which cannot write replies "
                         f"(a language model is a ...ForCausalLM); {_fix(key)}.")
    if not any((folder / name).is_file() for name in _TOKENIZERS):
        raise ModelError(f"{folder} has no tokenizer (one of {', '.join(_TOKENIZERS)}); "
                         f"{_fix(key)}.")
    if not _has_weights(folder):
        hint = (" (a .gguf file must be converted first)" if any(folder.glob("*.gguf"))
                else "")
        raise ModelError(f"{folder} has no weights (*.safetensors or pytorch_model.bin){hint}; "
                         f"{_fix(key)}.")
    return folder


_CHECKS = {"asr_model": check_asr_folder, "embed_model": check_embed_folder,
           "llm_model": check_llm_folder}


def check_model_setting(key: str, value: str | None) -> None:
    """Raise ``ModelError`` if ``value`` for the setting ``key`` is not a usable model folder.

    ``llm`` and ``asr`` must name an installed catalog model. Other settings, and ``None``
    or "" for a folder (the catalog or bundled model), pass unchecked.
    """
    if key in _CHECKS and value:
        _CHECKS[key](value)
    if key in ("llm", "asr"):  # catalog names (core/models/catalog.py)
        from persona.core.models.catalog import get_model, is_installed

        spec = get_model(value, key)
        if not is_installed(spec):
            raise ModelError(f"{spec.name} is not installed; {spec.install_hint()}.")
