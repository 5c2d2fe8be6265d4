"""Build the language-model backend the settings ask for."""

from __future__ import annotations

import logging

from persona.core.errors import ModelError, SettingsError
from persona.core.llm.adapter_base import AdapterFit, adapter_fit
from persona.core.llm.backend import LLMBackend
from persona.core.llm.convert import Progress
from persona.core.llm.models import (
    BACKENDS,
    default_backend_name,
    ensure_model_folder,
    model_gguf,
)
from persona.core.paths import Home
from persona.core.settings import Settings

log = logging.getLogger(__name__)


def backend_name(settings: Settings, name: str | None = None) -> str:
    """The backend that will run: ``name``, else the setting, else the platform's.

    llama.cpp runs GGUF files only: with ``llm_model`` set to a Hugging Face folder, "auto"
    means torch (logged), and an explicit "llamacpp" is a SettingsError.
    """
    if name is None and settings.llm_backend == "auto" and settings.llm_model:
        chosen = default_backend_name(settings)
        if chosen == "llamacpp":
            log.info("llm_model is the folder %s, which llama.cpp cannot run (it runs GGUF "
                     "files); using torch.", settings.llm_model)
            return "torch"
        return chosen
    name = name or default_backend_name(settings)
    if name not in BACKENDS:
        raise SettingsError(f"The language-model backend {name!r} is unknown; use one of "
                            f"{', '.join(BACKENDS)} (or 'auto').")
    if name == "llamacpp" and settings.llm_model:
        raise SettingsError(f"llm_model is the folder {settings.llm_model}, but llama.cpp runs "
                            "GGUF files only; set llm_backend to 'torch' (or 'auto'), or remove "
                            "llm_model to run the catalog model.")
    return name


def load_backend(settings: Settings, home: Home, name: str | None = None, *,
                 progress: Progress | None = None, adapter: bool = True) -> LLMBackend:
    """The backend ``name`` ("llamacpp", "torch" or "mlx"; None = from the settings and the
    platform) with the model from the settings (a GGUF for llama.cpp, run as it is; a model
    folder for torch and MLX, the bundled GGUF converted on first use) and the person's
    adapter from ``home.adapter_dir``, if one has been trained (``adapter=False``: the base
    model alone, as the fidelity report's baseline)."""
    backend = _load(settings, home, backend_name(settings, name), progress, adapter)
    if backend.adapter_note:
        log.warning("%s", backend.adapter_note)
    return backend


def _load(settings: Settings, home: Home, name: str, progress: Progress | None,
          adapter: bool = True) -> LLMBackend:
    # An adapter trained for another base model is skipped (adapter_note says so).
    fit = adapter_fit(settings, home.adapter_dir) if adapter else AdapterFit(None)
    if name == "llamacpp":
        from persona.core.llm.llamacpp_backend import LlamaCppBackend
        from persona.core.llm.prefix_state import state_dir

        # The persona prefix's KV state is kept in the home: a new process skips reading it.
        return _noted(LlamaCppBackend(model_gguf(settings, home, progress), fit.adapter_dir,
                                      state_dir=state_dir(home.root) if adapter else None), fit)
    folder = ensure_model_folder(settings, home, progress)
    if name == "torch":
        from persona.core.llm.torch_backend import TorchBackend

        return _noted(TorchBackend(folder, fit.adapter_dir), fit)
    try:
        import mlx_lm  # noqa: F401
    except ImportError as exc:
        raise ModelError("The MLX backend needs mlx and mlx-lm: `pip install mlx-lm` "
                         "(and `mlx[cpu]` on Linux), or set llm_backend to 'llamacpp' or "
                         "'torch'.") from exc
    from persona.core.llm.mlx_backend import MLXBackend

    return _noted(MLXBackend(folder, fit.adapter_dir), fit)


def _noted(backend: LLMBackend, fit: AdapterFit) -> LLMBackend:
    backend.adapter_note = fit.note
    return backend
