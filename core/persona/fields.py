"""Where each profile value came from, and editing one value by hand.

A subfield is *induced* while it holds exactly what induction last wrote (the sidecar of
:mod:`persona.core.persona.profile`), *yours* when the person wrote or changed it, and *empty* when
it is unset. Induction (:mod:`persona.core.persona.induce`) only ever rewrites induced and empty
subfields, so an edit made here survives every later ``persona profile induce``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from persona.core.errors import SettingsError
from persona.core.persona.profile import (
    SECTIONS,
    Profile,
    flatten,
    is_empty,
    load_induced,
    load_profile,
    save_profile,
    set_field,
)

Origin = Literal["induced", "yours", "empty"]
# How a subfield is edited: its JSON shape, as the app and `persona profile set` read it.
Kind = Literal["text", "list", "int", "float", "int_list", "shares"]


@dataclass(frozen=True)
class ProfileField:
    """One subfield of the profile, with what a person needs to edit it."""

    key: str  # "section.subfield"
    section: str
    name: str
    description: str
    kind: Kind
    value: Any  # JSON-able
    origin: Origin

    def to_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "origin": self.origin,
                "kind": self.kind, "description": self.description}


def field_origin(value: Any, key: str, induced: dict[str, Any]) -> Origin:
    """The origin of ``value`` at ``key``, given the induction sidecar ``induced``."""
    if is_empty(value):
        return "empty"
    return "induced" if key in induced and induced[key] == value else "yours"


def field_kind(section: str, name: str) -> Kind:
    """How the subfield ``section.name`` is edited, from its annotation."""
    annotation = str(type(getattr(Profile(), section)).model_fields[name].annotation)
    if "dict" in annotation:
        return "shares"
    if "list[int]" in annotation:
        return "int_list"
    if "list" in annotation:
        return "list"
    if "int" in annotation:
        return "int"
    if "float" in annotation:
        return "float"
    return "text"


def profile_fields(profile: Profile, induced: dict[str, Any]) -> list[ProfileField]:
    """Every subfield of ``profile`` in file order, with its origin."""
    values = flatten(profile)
    out = []
    for section in SECTIONS:
        for name, info in type(getattr(profile, section)).model_fields.items():
            key = f"{section}.{name}"
            out.append(ProfileField(key, section, name, info.description or "",
                                    field_kind(section, name), values[key],
                                    field_origin(values[key], key, induced)))
    return out


def read_fields(path: Path) -> list[ProfileField]:
    """The fields of the profile saved at ``path`` (see :func:`profile_fields`)."""
    return profile_fields(load_profile(path), load_induced(path))


def parse_value(key: str, text: str) -> Any:
    """The value typed for ``key`` on a command line: YAML (``[a, b]``, ``34``, ``null``),
    with a plain comma-separated string accepted for lists (``"sailing, tea"``)."""
    section, _, name = key.partition(".")
    kind = field_kind(section, name)
    stripped = text.strip()
    if stripped.lower() in ("", "none", "null", "~"):
        return {"list": [], "int_list": [], "shares": {}, "text": ""}.get(kind)
    if kind in ("list", "int_list") and not stripped.startswith("["):
        parts = [p.strip() for p in stripped.split(",") if p.strip()]
        return [yaml.safe_load(p) for p in parts] if kind == "int_list" else parts
    if kind == "text":
        return stripped
    if kind == "shares" and not stripped.startswith("{"):
        stripped = "{" + stripped + "}"  # "happy: 0.6, calm: 0.4" as typed in the app
    try:
        return yaml.safe_load(stripped)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{key}: {text!r} is not a value ({exc}); e.g. "
                            f"{_example(kind)}") from exc


def format_value(kind: Kind, value: Any) -> str:
    """``value`` as one line of text, the way :func:`parse_value` reads it back."""
    if is_empty(value):
        return ""
    if kind == "shares":
        return ", ".join(f"{k}: {v:g}" for k, v in value.items())
    if kind in ("list", "int_list"):
        return ", ".join(str(v) for v in value)
    return str(value)


def _example(kind: Kind) -> str:
    return {"list": "'sailing, tea'", "int_list": "'7, 21'", "int": "34", "float": "14.5",
            "shares": "'{joy: 0.6, neutral: 0.4}'", "text": "'Bergen'"}[kind]


def check_key(key: str) -> None:
    """Raise ``SettingsError`` naming the known keys unless ``key`` is ``section.subfield``."""
    section, _, name = key.partition(".")
    if section in SECTIONS and name in type(getattr(Profile(), section)).model_fields:
        return
    known = ", ".join(f.key for f in profile_fields(Profile(), {}))
    raise SettingsError(f"unknown profile field {key!r}; known: {known}")


def with_values(profile: Profile, values: dict[str, Any]) -> Profile:
    """A copy of ``profile`` with ``{"section.subfield": value}`` applied and validated.

    Raises ``SettingsError`` naming each bad field and what it accepts; nothing is applied
    when any value is bad.
    """
    problems = []
    for key, value in values.items():
        check_key(key)
        try:
            profile = set_field(profile, key, value)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            problems.append(f"{key}: {msg} (got {value!r})")
    if problems:
        raise SettingsError("The profile was not saved: " + "; ".join(problems) + ".")
    return profile


def set_values(path: Path, values: dict[str, Any]) -> list[ProfileField]:
    """Set subfields of the profile at ``path`` by hand and save it; returns the fields.

    The sidecar is left alone, so a changed value now counts as the person's and induction
    keeps it; a value set back to exactly what induction wrote counts as induced again.
    """
    profile = with_values(load_profile(path), values)
    save_profile(profile, path)
    return profile_fields(profile, load_induced(path))
