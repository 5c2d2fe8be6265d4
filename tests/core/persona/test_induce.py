"""Profile induction on a small diary: what it finds, and that hand edits survive it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import soundfile as sf
import yaml

from persona.core.memory.schema import Memory
from persona.core.persona.induce import InductionOptions, induce_fields, induce_profile_file
from persona.core.persona.profile import Profile, load_induced, load_profile, save_profile
from persona.core.persona.textstats import sentences, words

UTC = timezone.utc
OPT = InductionOptions(tz=UTC)

# (day, hour, emotion, text): evenings mostly, cello and garden recurring.
DIARY = [
    (1, 21, "neutral", "My name is Ada Berg and I am thirty-four. I live in Trondheim."),
    (2, 21, "happy", "I work as a violin teacher at the music school. To be honest I love it."),
    (3, 22, "happy", "Cello practice went well tonight. The cello sounds warm in the new room."),
    (4, 21, "anxious", "To be honest the concert worries me. I practised the cello for hours."),
    (5, 7, "calm", "Early walk in the garden. The tomatoes in the garden are finally red."),
    (6, 21, "happy", "I love fresh tomatoes from the garden. My sister Ida visited today."),
    (7, 22, "sad", "The concert was cancelled. To be honest I cried a little."),
    (8, 21, "happy", "I speak Norwegian and English. Cello lessons with Ida start next week."),
    (9, 13, "angry", "I hate waiting for the bus in the rain. The bus was late again."),
    (10, 21, "happy", "Garden dinner with Ida. We ate tomatoes and talked about the cello."),
]


def diary(days=DIARY, start=datetime(2026, 3, 1, tzinfo=UTC)) -> list[Memory]:
    return [Memory(text=t, ts=start + timedelta(days=d, hours=h), emotion=e)
            for d, h, e, t in days]


ASSISTANT = Memory(text="You should try the xylophone, the xylophone is fun. To be honest.",
                   source="chat", speaker="assistant", emotion="excited",
                   ts=datetime(2026, 3, 12, 3, tzinfo=UTC))


def test_induction_finds_what_the_diary_says():
    f = induce_fields(diary() + [ASSISTANT], OPT)
    assert f["identity.name"] == "Ada Berg"
    assert f["demographics.age"] == 34
    assert f["demographics.location"] == "Trondheim"
    assert f["demographics.occupation"] == "violin teacher"
    assert f["demographics.languages"] == ["Norwegian", "English"]
    topics = f["memory.frequent_topics"]
    assert topics[:2] == ["cello", "garden"]  # in 4 and 3 memories (one of them twice)
    assert set(topics[2:4]) == {"tomatoes", "ida"}
    assert "honest" not in topics  # part of a typical phrase: style, not subject
    assert "xylophone" not in topics  # the assistant's words never count
    assert f["pattern.typical_phrases"][0] == "to be honest"
    assert f["pattern.active_hours"] == [21]  # 6 of 10 memories; 22:00 is next with 2
    assert f["personality.emotion_distribution"] == {
        "happy": 0.5, "neutral": 0.1, "sad": 0.1, "angry": 0.1, "anxious": 0.1, "calm": 0.1}
    assert f["personality.dominant_emotion"] == "happy"
    n_sent = [len(words(s)) for d in DIARY for s in sentences(d[3])]
    assert f["pattern.avg_sentence_words"] == round(sum(n_sent) / len(n_sent), 1)
    assert f["memory.key_facts"] == [  # first-person facts, newest first; events are not
        "I speak Norwegian and English.", "I work as a violin teacher at the music school.",
        "My name is Ada Berg and I am thirty-four.", "I live in Trondheim."]
    assert f["preference.likes"] == ["fresh tomatoes"]  # "I love it" names nothing
    assert f["preference.dislikes"] == ["waiting for the bus"]
    assert f["pattern.speaking_rate"] is None  # no audio folder given


def test_active_hours_cover_half_of_the_memories():
    days = [(d, h, "neutral", "Note.") for d, h in enumerate([7, 7, 7, 12, 12, 12, 20, 23])]
    assert induce_fields(diary(days), OPT)["pattern.active_hours"] == [7, 12]
    # The same memories seen from UTC+2.
    shifted = InductionOptions(tz=timezone(timedelta(hours=2)))
    assert induce_fields(diary(days), shifted)["pattern.active_hours"] == [9, 14]


def test_nothing_to_induce_gives_empty_fields():
    f = induce_fields([ASSISTANT], OPT)
    assert f["personality.emotion_distribution"] == {} and f["memory.frequent_topics"] == []
    assert f["pattern.avg_sentence_words"] is None and f["identity.name"] == ""


def hand_edit(path, section, field, value):
    """Edit the YAML file the way a person would: load it as plain YAML, change, write."""
    data = yaml.safe_load(path.read_text())
    data[section][field] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_hand_edits_survive_two_inductions(home):
    path = home / "profile.yaml"
    profile, first = induce_profile_file(diary()[:6], path, OPT)
    assert profile.identity.name == "Ada Berg" and not first.kept
    assert {c.field for c in first.changed} >= {"identity.name", "memory.frequent_topics"}
    assert load_induced(path)["identity.name"] == "Ada Berg"

    hand_edit(path, "identity", "name", "Ada")  # a changed value
    hand_edit(path, "preference", "likes", [])  # a cleared value
    hand_edit(path, "memory", "frequent_topics", ["cello", "gardening", "Ida"])
    hand_edit(path, "identity", "pronouns", "she/her")  # a field induction never writes

    for _ in range(2):  # the second and the third induction, with more memories
        profile, report = induce_profile_file(diary(), path, OPT)
        assert profile.identity.name == "Ada"
        assert profile.preference.likes == []
        assert profile.memory.frequent_topics == ["cello", "gardening", "Ida"]
        assert profile.identity.pronouns == "she/her"
        kept = {c.field: c for c in report.kept}
        assert set(kept) == {"identity.name", "preference.likes", "memory.frequent_topics"}
        assert kept["identity.name"].old == "Ada" and kept["identity.name"].new == "Ada Berg"
    # Fields the person left alone follow the memories.
    assert profile.demographics.languages == ["Norwegian", "English"]
    assert profile.preference.dislikes == ["waiting for the bus"]
    assert load_profile(path) == profile
    assert "kept identity.name (edited by you): 'Ada'" in report.summary()


def test_values_set_before_any_induction_are_the_persons(home):
    path = home / "profile.yaml"
    save_profile(Profile.model_validate({"identity": {"name": "Dr. A. Berg"},
                                         "pattern": {"active_hours": [6]}}), path)
    profile, report = induce_profile_file(diary(), path, OPT)
    assert profile.identity.name == "Dr. A. Berg" and profile.pattern.active_hours == [6]
    assert {c.field for c in report.kept} == {"identity.name", "pattern.active_hours"}
    assert profile.demographics.location == "Trondheim"  # empty fields were filled


def test_forgotten_memories_leave_the_induced_fields(home):
    path = home / "profile.yaml"
    induce_profile_file(diary(), path, OPT)
    rest = [m for m in diary() if "Trondheim" not in m.text and "bus" not in m.text]
    profile, report = induce_profile_file(rest, path, OPT)
    assert profile.demographics.location == "" and profile.identity.name == ""
    assert profile.preference.dislikes == []
    assert {"demographics.location", "preference.dislikes"} <= {c.field for c in report.changed}


@pytest.mark.slow
def test_speaking_rate_from_voice_recordings(home, speak):
    audio = home / "audio"
    audio.mkdir()
    mems = []
    for i, text in enumerate(["I walked to the harbour and watched the boats come in.",
                              "My cello teacher says I should practise every single day."]):
        wav = speak(text, speed=150)
        (audio / f"{i}.wav").write_bytes(wav.read_bytes())
        mems.append(Memory(text=text, source="voice", audio_path=f"{i}.wav"))
    rate = induce_fields(mems, InductionOptions(tz=UTC, audio_dir=audio))[
        "pattern.speaking_rate"]
    seconds = sum(sf.info(str(audio / f"{i}.wav")).duration for i in range(2))
    assert rate == round(60 * 21 / seconds)
    assert 100 < rate < 200  # espeak at 150 words per minute, with its pauses
