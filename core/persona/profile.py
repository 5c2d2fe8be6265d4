"""The persona profile: six fields (identity, demographics, personality, memory, pattern,
preference) saved as a commented YAML file the person can edit by hand.

Induction (:mod:`persona.core.persona.induce`) fills fields from the memories, but a value the
person wrote is never overwritten. A sidecar next to the profile (``.profile.induced.json``)
records what induction last wrote, per subfield; a subfield whose value in the file differs
from that record, or that was filled before any induction, belongs to the person.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from persona.core.atomic import atomic_write_text
from persona.core.emotion.base import LABELS
from persona.core.errors import SettingsError

SECTIONS = ("identity", "demographics", "personality", "memory", "pattern", "preference")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Identity(_Section):
    name: str = Field("", description="what the assistant calls you")
    pronouns: str = Field("", description="e.g. she/her, he/him, they/them")
    summary: str = Field("", description="one or two sentences about who you are")


class Demographics(_Section):
    age: int | None = Field(None, ge=0, le=130, description="in years")
    location: str = Field("", description="city or region")
    occupation: str = Field("", description="what you do")
    languages: list[str] = Field(default_factory=list, description="languages you speak")


class Personality(_Section):
    traits: list[str] = Field(default_factory=list, description="e.g. curious, patient")
    emotion_distribution: dict[str, float] = Field(
        default_factory=dict, description="share of your memories per emotion (0..1)")
    dominant_emotion: str = Field("", description=f"one of {', '.join(LABELS)}")

    @field_validator("emotion_distribution")
    @classmethod
    def _known_emotions(cls, v: dict[str, float]) -> dict[str, float]:
        for label, share in v.items():
            if label not in LABELS:
                raise ValueError(f"unknown emotion {label!r}; use one of {', '.join(LABELS)}")
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"share of {label!r} is {share}; use a number from 0 to 1")
        return v

    @field_validator("dominant_emotion")
    @classmethod
    def _known_label(cls, v: str) -> str:
        if v and v not in LABELS:
            raise ValueError(f"unknown emotion {v!r}; use one of {', '.join(LABELS)} or ''")
        return v


class MemoryFacts(_Section):
    key_facts: list[str] = Field(default_factory=list, description="facts you told Persona")
    frequent_topics: list[str] = Field(default_factory=list, description="what you talk about")


class Pattern(_Section):
    active_hours: list[int] = Field(default_factory=list,
                                    description="hours of the day (0-23) you talk most")
    avg_sentence_words: float | None = Field(None, ge=0, description="words per sentence")
    typical_phrases: list[str] = Field(default_factory=list, description="phrases you often use")
    speaking_rate: float | None = Field(None, ge=0, description="words per minute, from voice")

    @field_validator("active_hours")
    @classmethod
    def _hours(cls, v: list[int]) -> list[int]:
        bad = [h for h in v if not 0 <= h <= 23]
        if bad:
            raise ValueError(f"hours {bad} are not hours of the day; use 0 to 23")
        return v


class Preference(_Section):
    likes: list[str] = Field(default_factory=list, description="things you enjoy")
    dislikes: list[str] = Field(default_factory=list, description="things you avoid")
    reply_style: str = Field("", description="how replies should sound, e.g. short and warm")


class Profile(_Section):
    identity: Identity = Field(default_factory=Identity,
                               description="Who you are.")
    demographics: Demographics = Field(default_factory=Demographics,
                                       description="Facts about your life.")
    personality: Personality = Field(default_factory=Personality,
                                     description="How you are and how you usually feel.")
    memory: MemoryFacts = Field(default_factory=MemoryFacts,
                                description="What you have told Persona.")
    pattern: Pattern = Field(default_factory=Pattern,
                             description="How and when you talk.")
    preference: Preference = Field(default_factory=Preference,
                                   description="What you like and how you want answers.")


HEADER = """\
# Persona profile: what the assistant knows about you.
# Edit any value by hand; `persona profile induce` fills fields from your memories but never
# overwrites a value you changed. Leave a value empty ('', [] or null) to leave it unset.
"""


def flatten(profile: Profile) -> dict[str, Any]:
    """``{"section.subfield": JSON-able value}`` for every subfield."""
    data = profile.model_dump(mode="json")
    return {f"{s}.{k}": v for s in SECTIONS for k, v in data[s].items()}


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def profile_to_yaml(profile: Profile) -> str:
    """The commented YAML text of ``profile`` (a comment above every subfield)."""
    data = profile.model_dump(mode="json")
    lines = [HEADER]
    for section in SECTIONS:
        model = getattr(profile, section)
        lines.append(f"# {Profile.model_fields[section].description}")
        lines.append(f"{section}:")
        for name, info in type(model).model_fields.items():
            lines.append(f"  # {info.description}")
            dumped = yaml.safe_dump({name: data[section][name]}, sort_keys=False,
                                    allow_unicode=True, default_flow_style=False, width=88)
            lines.extend("  " + ln for ln in dumped.rstrip("\n").split("\n"))
        lines.append("")
    return "\n".join(lines)


def load_profile(path: Path) -> Profile:
    """Read and validate the profile at ``path``; a missing file is an empty profile."""
    path = Path(path)
    if not path.exists():
        return Profile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not valid YAML ({exc}). Fix the line shown, or move "
                            "the file away to start a new profile.") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold the sections {', '.join(SECTIONS)}.")
    # An emptied section ("memory:" with nothing under it) reads as None: treat it as unset.
    data = {k: ({} if v is None and k in SECTIONS else v) for k, v in data.items()}
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            got = f" (got {err['input']!r})" if err["type"] != "missing" else ""
            hint = ("remove it or check its spelling" if err["type"] == "extra_forbidden"
                    else "fix the value or set it empty")
            problems.append(f"  {where}: {err['msg']}{got}; {hint}")
        raise SettingsError(f"{path} has invalid profile fields:\n" + "\n".join(problems)
                            ) from exc


def save_profile(profile: Profile, path: Path) -> None:
    """Write ``profile`` to ``path`` as commented YAML, atomically."""
    atomic_write_text(Path(path), profile_to_yaml(profile))


def induced_path(profile_path: Path) -> Path:
    """The sidecar recording what induction last wrote into ``profile_path``."""
    p = Path(profile_path)
    return p.with_name(f".{p.stem}.induced.json")


def load_induced(profile_path: Path) -> dict[str, Any]:
    """``{"section.subfield": value}`` last written by induction (empty if never run)."""
    p = induced_path(profile_path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{p} is damaged ({exc}); delete it (induction will then treat "
                            "every filled field as yours and keep it).") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{p} is damaged (not a mapping); delete it.")
    return data


def save_induced(profile_path: Path, induced: dict[str, Any]) -> None:
    atomic_write_text(induced_path(profile_path),
                      json.dumps(induced, indent=1, sort_keys=True, ensure_ascii=False))


def set_field(profile: Profile, key: str, value: Any) -> Profile:
    """A copy of ``profile`` with ``section.subfield`` set to ``value`` (validated)."""
    section, name = key.split(".", 1)
    data = profile.model_dump(mode="json")
    data[section][name] = value
    return Profile.model_validate(data)
