"""The catalog as one home sees it: for each model, whether it is installed, whether its file
was checked against its sha256, whether the home's settings select it; and choosing one.

``persona models list|use`` and the app's Settings page both read this, so they agree. A
selected name that no catalog entry has any more (an imported model whose file and registry
entry left the cache) is listed as an orphan row that says what happened and what to do,
instead of disappearing or crashing the list.

Nothing here hashes a file: "verified" is the stamp ``cache.verify`` left on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

from persona.core.errors import ModelError
from persona.core.models import cache
from persona.core.models.catalog import ModelSpec, all_models, get_model, is_installed
from persona.core.settings import Settings

ROLE_NAMES = {"llm": "language model", "asr": "speech-to-text model"}
FOLDER_SETTING = {"llm": "llm_model", "asr": "asr_model"}


@dataclass(frozen=True)
class ModelState:
    """One catalog row for a home. ``spec`` is None for an orphaned selection."""

    name: str
    role: str
    spec: ModelSpec | None
    installed: bool
    verified: bool  # its file was hashed and matched (and is unchanged since)
    selected: bool  # the ``llm`` / ``asr`` setting names it
    overridden: bool  # selected, but the llm_model / asr_model folder is used instead
    problem: str | None = None  # why a selected model cannot run, and the fix

    @property
    def in_use(self) -> bool:
        return self.selected and not self.overridden

    @property
    def orphan(self) -> bool:
        return self.spec is None

    @property
    def status(self) -> str:
        """A few words: in use / selected but missing / installed / not installed."""
        if self.selected and not self.installed:
            return "selected, missing"
        if self.in_use:
            return "in use"
        if self.selected:
            return f"selected (the {FOLDER_SETTING[self.role]} folder is used)"
        return "installed" if self.installed else "not installed"


def size_text(n: int) -> str:
    """Bytes as the catalog shows them: "98 MB", "1,117 MB"."""
    return f"{n / 1e6:,.0f} MB"


def params_text(n: int) -> str:
    """"1.78B", "135M", or the count itself for a toy model (not "0M")."""
    if n >= 1e9:
        return f"{n / 1e9:.2f}B"
    return f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n:,}"


def model_path(spec: ModelSpec):
    """The file whose sha256 is checked (a GGUF, or Whisper's model.bin), or None when the
    model is not installed. Mirrors where core/models/files.py finds or makes it."""
    if spec.imported:
        return cache.imported_file(spec)
    try:
        parts = spec.part_paths()
    except ModelError:
        return None
    if len(parts) == 1:
        return parts[0]
    if spec.role == "asr":
        return cache.whisper_dir(spec.sha256) / "model.bin"
    return cache.gguf_path(spec.sha256)


def is_verified(spec: ModelSpec) -> bool:
    path = model_path(spec)
    return path is not None and path.is_file() and cache.is_verified(path, spec.sha256)


def _orphan_problem(name: str, role: str) -> str:
    return (f"The {ROLE_NAMES[role]} setting names {name!r}, which is no longer in the catalog "
            f"(an imported model whose file left the cache {cache.models_cache()}); import "
            f"the file again with `persona models import FILE.gguf --name {name}`, or choose "
            f"another with `persona models use NAME`.")


def state_of(spec: ModelSpec, settings: Settings) -> ModelState:
    installed = is_installed(spec)
    selected = getattr(settings, spec.role) == spec.name
    problem = None
    if selected and not installed:
        problem = (f"{spec.name} is selected as the {ROLE_NAMES[spec.role]} but is not "
                   f"installed; {spec.install_hint()}, or choose another with "
                   f"`persona models use NAME`.")
    return ModelState(name=spec.name, role=spec.role, spec=spec, installed=installed,
                      verified=installed and is_verified(spec), selected=selected,
                      overridden=bool(getattr(settings, FOLDER_SETTING[spec.role])),
                      problem=problem)


def catalog_states(settings: Settings) -> list[ModelState]:
    """Every catalog model (built in, then imported), then an orphan row for each selected
    name that no catalog entry has."""
    models = all_models()
    rows = [state_of(m, settings) for m in models.values()]
    for role in ROLE_NAMES:
        name = getattr(settings, role)
        if name not in models or models[name].role != role:
            rows.append(ModelState(name=name, role=role, spec=None, installed=False,
                                   verified=False, selected=True,
                                   overridden=bool(getattr(settings, FOLDER_SETTING[role])),
                                   problem=_orphan_problem(name, role)))
    return rows


def choose(settings: Settings, name: str) -> tuple[Settings, ModelSpec]:
    """``settings`` with ``name`` selected for its role (nothing saved): ModelError when it is
    not in the catalog, not installed, or cannot hear the ``asr_language``."""
    spec = get_model(name)
    if not is_installed(spec):
        raise ModelError(f"{spec.name} is not installed; {spec.install_hint()}, then run "
                         f"`persona models use {spec.name}` again.")
    if spec.role == "asr" and spec.languages == "en" and settings.asr_language not in (
            "en", "auto"):
        raise ModelError(f"{spec.name} understands English only, but asr_language is "
                         f"{settings.asr_language!r}; run `persona settings set asr_language "
                         f"en` first, or choose a multilingual model such as whisper-base.")
    return settings.model_copy(update={spec.role: spec.name}), spec
