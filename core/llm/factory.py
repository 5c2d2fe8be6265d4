"""Build the language-model backend the settings ask for."""

from __future__ import annotations

from persona.core.errors import ModelError, SettingsError
from persona.core.llm.backend import LLMBackend
from persona.core.llm.convert import Progress
from persona.core.llm.models import BACKENDS, default_backend_name, ensure_model_folder
from persona.core.paths import Home
from persona.core.settings import Settings


def load_backend(settings: Settings, home: Home, name: str | None = None, *,
                 progress: Progress | None = None) -> LLMBackend:
    """The backend ``name`` ("torch" or "mlx"; None = from the settings and the platform)
    with the model folder from the settings (the bundled model is converted on first use)
    and the person's adapter from ``home.adapter_dir``, if one has been trained."""
    name = name or default_backend_name(settings)
    if name not in BACKENDS:
        raise SettingsError(f"The language-model backend {name!r} is unknown; use one of "
                            f"{', '.join(BACKENDS)} (or 'auto').")
    folder = ensure_model_folder(settings, home, progress)
    if name == "torch":
        from persona.core.llm.torch_backend import TorchBackend

        return TorchBackend(folder, home.adapter_dir)
    try:
        import mlx_lm  # noqa: F401
    except ImportError as exc:
        raise ModelError("The MLX backend needs mlx and mlx-lm: `pip install mlx-lm` "
                         "(and `mlx[cpu]` on Linux), or set llm_backend to 'torch'.") from exc
    from persona.core.llm.mlx_backend import MLXBackend

    return MLXBackend(folder, home.adapter_dir)
