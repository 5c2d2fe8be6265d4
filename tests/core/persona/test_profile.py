"""The profile file: commented YAML round trip, validation that names the field, sidecar."""

from __future__ import annotations

import pytest
import yaml

from persona.core.errors import SettingsError
from persona.core.paths import Home
from persona.core.persona.profile import (
    Profile,
    flatten,
    induced_path,
    load_induced,
    load_profile,
    profile_to_yaml,
    save_induced,
    save_profile,
)

FULL = {
    "identity": {"name": "Maya Lindqvist", "pronouns": "she/her",
                 "summary": "A marine biologist who plays the cello."},
    "demographics": {"age": 34, "location": "Bergen", "occupation": "marine biologist",
                     "languages": ["Norwegian", "English"]},
    "personality": {"traits": ["curious", "stubborn"],
                    "emotion_distribution": {"happy": 0.5, "anxious": 0.25, "neutral": 0.25},
                    "dominant_emotion": "happy"},
    "memory": {"key_facts": ["My cat is called Miso.", "I am allergic to peanuts: badly."],
               "frequent_topics": ["cello", "grant"]},
    "pattern": {"active_hours": [7, 21], "avg_sentence_words": 11.5,
                "typical_phrases": ["to be honest", "# not a comment"], "speaking_rate": 150.0},
    "preference": {"likes": ["cardamom buns"], "dislikes": ["small talk"],
                   "reply_style": "short and warm"},
}


def test_round_trip_is_exact_and_commented(home):
    path = Home.resolve(home).profile_file
    profile = Profile.model_validate(FULL)
    save_profile(profile, path)
    assert load_profile(path) == profile
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Persona profile")
    assert "  # what the assistant calls you\n  name: Maya Lindqvist" in text
    assert "# How and when you talk.\npattern:" in text
    assert [p.name for p in home.iterdir()] == ["profile.yaml"]  # no scratch file left


def test_missing_file_is_an_empty_profile(home):
    profile = load_profile(home / "profile.yaml")
    assert profile == Profile()
    assert all(v in ("", [], {}, None) for v in flatten(profile).values())
    assert Profile.model_validate(yaml.safe_load(profile_to_yaml(profile))) == profile


def test_hand_written_file_with_emptied_sections_loads(home):
    path = home / "profile.yaml"
    path.write_text("identity:\n  name: Ada\nmemory:\npattern:\n  active_hours: [8]\n")
    profile = load_profile(path)
    assert profile.identity.name == "Ada" and profile.pattern.active_hours == [8]
    assert profile.memory.key_facts == []


@pytest.mark.parametrize("text, expected", [
    ("identity:\n  nmae: Ada\n", r"identity\.nmae: Extra inputs.*remove it or check its spelling"),
    ("demographics:\n  age: thirty\n", r"demographics\.age: .*integer.*'thirty'.*fix the value"),
    ("demographics:\n  age: 300\n", r"demographics\.age: .*130"),
    ("personality:\n  dominant_emotion: grumpy\n", r"dominant_emotion: .*'grumpy'.*happy"),
    ("personality:\n  emotion_distribution: {happy: 2}\n", r"share of 'happy' is 2"),
    ("pattern:\n  active_hours: [9, 25]\n", r"pattern\.active_hours: .*\[25\].*0 to 23"),
    ("hobbies: [chess]\n", r"hobbies: Extra inputs"),
    ("identity: [\n", r"not valid YAML"),
    ("- just\n- a list\n", r"must hold the sections identity, demographics"),
])
def test_invalid_files_name_the_field_and_the_fix(home, text, expected):
    path = home / "profile.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=expected) as err:
        load_profile(path)
    assert str(path) in str(err.value)
    assert path.read_text() == text  # a bad file is reported, never rewritten


def test_sidecar_round_trip_and_damage(home):
    path = home / "profile.yaml"
    assert load_induced(path) == {}
    save_induced(path, {"identity.name": "Maya", "pattern.active_hours": [21]})
    assert induced_path(path) == home / ".profile.induced.json"
    assert load_induced(path) == {"identity.name": "Maya", "pattern.active_hours": [21]}
    induced_path(path).write_text("{not json")
    with pytest.raises(SettingsError, match="delete it"):
        load_induced(path)
