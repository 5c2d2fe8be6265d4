"""The names redaction replaces: the person's list (setting ``redact_names``), and the ones
Persona suggests from the memories (``privacy.names``) for the person to confirm.

Used by `persona names ...` and the app's Settings view alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from persona.core.errors import SettingsError
from persona.core.paths import Home
from persona.core.settings import Settings, load_settings, save_settings
from persona.privacy.names import NameCandidate, suggest_names


def person_texts(home: Home, settings: Settings) -> list[str]:
    """The text of every memory in the person's own words (not the assistant's)."""
    from persona.core.memory.embed import Embedder
    from persona.core.memory.store import MemoryStore

    store = MemoryStore(home.memory_dir, Embedder.from_settings(settings), settings=settings)
    return [m.text for m in store.all_memories() if m.speaker == "person"]


def suggest(home: Home, *, min_count: int = 2) -> list[NameCandidate]:
    """Name candidates from the home's memories that are not listed yet."""
    settings = load_settings(home.settings_file)
    return suggest_names(person_texts(home, settings), known=settings.redact_names,
                         min_count=min_count)


def with_names(settings: Settings, names: Iterable[str]) -> Settings:
    """``settings`` with ``names`` added to ``redact_names`` (duplicates ignored,
    case-insensitively). A bad name is a SettingsError."""
    wanted = [" ".join(n.split()) for n in names]
    if not wanted or not all(wanted):
        raise SettingsError("Give at least one name to confirm, e.g. `persona names confirm "
                            "Anna`.")
    try:
        return Settings(**{**settings.model_dump(),
                           "redact_names": [*settings.redact_names, *wanted]})
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{msg} Nothing was saved.") from exc


def confirm(home: Home, names: Iterable[str]) -> list[str]:
    """Add ``names`` to ``redact_names`` and save; returns the whole list. A bad name is a
    SettingsError and nothing is saved."""
    updated = with_names(load_settings(home.settings_file), names)
    save_settings(updated, home.settings_file)
    return list(updated.redact_names)


def listed(home: Home) -> list[str]:
    """The names redaction replaces now."""
    return list(load_settings(home.settings_file).redact_names)
