"""The stylometric profile and similarity on known texts: the sample persona's diary, a
formal regulation-like text and texting (tests/data/style)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from persona.core.errors import TextError
from persona.core.evaluate.stylometry import favourite_phrases, profile, similarity
from persona.core.paths import PACKAGE_ROOT
from persona.core.persona.textstats import words

DATA = Path(__file__).resolve().parents[2] / "data" / "style"


def diary_entries() -> list[str]:
    text = (PACKAGE_ROOT / "assets" / "sample_persona" / "diary.md").read_text("utf-8")
    return [p.strip() for p in re.split(r"^#.*$", text, flags=re.M) if p.strip()]


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    entries = diary_entries()
    half = len(entries) // 2
    return {"diary_a": "\n".join(entries[:half]), "diary_b": "\n".join(entries[half:]),
            "formal": (DATA / "formal.txt").read_text("utf-8"),
            "texting": (DATA / "texting.txt").read_text("utf-8")}


def test_a_text_against_itself_is_one(texts):
    for text in texts.values():
        assert similarity(text, text) == 1.0
        assert similarity(profile(text), profile(text)) == 1.0


def test_the_same_writer_is_close_and_other_styles_are_far(texts):
    same = similarity(texts["diary_a"], texts["diary_b"])
    formal = similarity(texts["diary_a"], texts["formal"])
    texting = similarity(texts["diary_a"], texts["texting"])
    assert same > 0.7
    assert formal < 0.3 and texting < 0.5
    assert same - max(formal, texting) > 0.4
    assert similarity(texts["formal"], texts["texting"]) < 0  # opposite styles


def test_the_profile_measures_what_it_says():
    p = profile("I love tea. I love cake! Do you? I love tea, and I love cake.")
    assert p.words == 15
    assert p.sentence_length == pytest.approx(15 / 4)
    assert p.function_words["i"] == pytest.approx(4 / 15)
    assert p.punctuation["!"] == pytest.approx(1 / 15)
    assert p.punctuation["?"] == pytest.approx(1 / 15)
    assert p.punctuation[","] == pytest.approx(1 / 15)
    # "i love" (4 times) stays beside the longer phrases it starts (twice each).
    assert p.phrases == [("i love", 4), ("i love cake", 2), ("i love tea", 2)]
    # A hyphen inside a word is spelling, a dash between words is punctuation.
    assert profile("A well-known fact.").punctuation["-"] == 0
    assert profile("A fact — well known.").punctuation["-"] == pytest.approx(1 / 4)


def test_favourite_phrases_are_repeated_and_not_only_function_words():
    tokens = words("of the of the of the cardamom buns and cardamom buns")
    assert favourite_phrases(tokens) == [("cardamom buns", 2)]


def test_a_text_without_words_is_refused():
    with pytest.raises(TextError, match="no(ne)?"):
        profile(" ... !!! ")
