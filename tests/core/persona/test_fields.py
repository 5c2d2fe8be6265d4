"""Field origins (induced / yours / empty) and hand edits, through the CLI and the core."""

from __future__ import annotations

import json

import pytest

from persona.core.cli import main
from persona.core.errors import SettingsError
from persona.core.persona.fields import (
    field_origin,
    format_value,
    parse_value,
    read_fields,
    set_values,
)
from persona.core.persona.induce import induce_profile_file
from persona.core.persona.profile import load_profile
from tests.core.persona.test_induce import OPT, diary


def origins(path) -> dict[str, str]:
    return {f.key: f.origin for f in read_fields(path)}


def test_origin_follows_the_sidecar():
    induced = {"preference.likes": ["tea"]}
    assert field_origin(["tea"], "preference.likes", induced) == "induced"
    assert field_origin(["tea", "jam"], "preference.likes", induced) == "yours"
    assert field_origin([], "preference.likes", induced) == "empty"
    assert field_origin("Ada", "identity.name", {}) == "yours"  # never induced: the person's


def test_an_edited_field_is_yours_and_survives_induction(tmp_path):
    path = tmp_path / "profile.yaml"
    induce_profile_file(diary(), path, OPT)
    before = origins(path)
    assert before["memory.frequent_topics"] == "induced"
    assert before["identity.summary"] == "empty"

    fields = set_values(path, {"memory.frequent_topics": ["sailing"],
                               "identity.summary": "Teaches violin."})
    now = {f.key: f for f in fields}
    assert now["memory.frequent_topics"].origin == "yours"
    assert now["identity.summary"].origin == "yours"

    _, report = induce_profile_file(diary(), path, OPT)
    assert "memory.frequent_topics" in [c.field for c in report.kept]
    assert load_profile(path).memory.frequent_topics == ["sailing"]
    assert origins(path)["memory.frequent_topics"] == "yours"


def test_a_bad_value_names_the_field_and_changes_nothing(tmp_path):
    path = tmp_path / "profile.yaml"
    set_values(path, {"identity.name": "Ada"})
    text = path.read_text()
    with pytest.raises(SettingsError, match="pattern.active_hours"):
        set_values(path, {"identity.name": "Bea", "pattern.active_hours": [25]})
    assert path.read_text() == text
    with pytest.raises(SettingsError, match="unknown profile field 'identity.nick'"):
        set_values(path, {"identity.nick": "A"})


def test_values_typed_on_a_command_line():
    assert parse_value("preference.likes", "sailing, tea") == ["sailing", "tea"]
    assert parse_value("pattern.active_hours", "7, 21") == [7, 21]
    assert parse_value("demographics.age", "34") == 34
    assert parse_value("demographics.age", "none") is None
    assert parse_value("identity.summary", "Hi: there") == "Hi: there"
    assert parse_value("preference.likes", "") == []
    shares = "happy: 0.6, calm: 0.4"
    assert parse_value("personality.emotion_distribution", shares) == {"happy": 0.6, "calm": 0.4}
    assert format_value("shares", {"happy": 0.6, "calm": 0.4}) == shares


def test_cli_profile_set_and_show_json(tmp_path, capsys):
    home = str(tmp_path / "home")
    assert main(["profile", "set", "--home", home, "preference.likes", "sailing, tea"]) == 0
    capsys.readouterr()
    assert main(["profile", "show", "--home", home, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["preference"]["likes"] == ["sailing", "tea"]
    assert shown["origins"]["preference.likes"] == "yours"
    assert shown["origins"]["identity.name"] == "empty"
    assert main(["profile", "set", "--home", home, "demographics.age", "old"]) == 2
    assert "demographics.age" in capsys.readouterr().err
