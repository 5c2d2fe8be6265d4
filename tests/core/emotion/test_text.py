"""Word cues: VADER valence, arousal typography and the category word lists."""

from __future__ import annotations

import pytest

from persona.core.emotion.text import NEUTRAL_AROUSAL, text_cues
from persona.core.errors import TextError


def test_positive_and_negative_sentences_have_clearly_different_valence():
    pos = text_cues("What a wonderful day, I loved every minute of it.")
    neg = text_cues("This was an awful day and I hated every minute of it.")
    assert pos.valence > 0.5 and neg.valence < -0.5


def test_plain_facts_are_neutral_with_no_evidence():
    c = text_cues("The train to Leeds leaves from platform four at ten.")
    assert c.valence == 0 and c.categories == {} and c.evidence == 0
    assert c.arousal == pytest.approx(NEUTRAL_AROUSAL)


@pytest.mark.parametrize(("text", "category"), [
    ("I'm so angry that they ignored me again.", "angry"),
    ("I'm worried sick about the exam results.", "anxious"),
    ("I miss her and the house feels empty.", "sad"),
    ("We won the final, I can't wait to celebrate!", "excited"),
    ("I had a lovely lunch and I'm glad I went.", "happy"),
    ("A slow, quiet evening with tea, completely relaxed.", "calm"),
])
def test_category_cues(text, category):
    c = text_cues(text)
    assert max(c.categories, key=c.categories.get) == category, c.hits


def test_negated_cues_are_ignored():
    assert "anxious" not in text_cues("I'm not worried about it at all.").categories
    assert "angry" not in text_cues("Honestly I was never angry with him.").categories


def test_exclamation_and_capitals_raise_arousal_and_calm_words_lower_it():
    plain = text_cues("We are going to the beach tomorrow.")
    shouted = text_cues("We are going to the BEACH tomorrow!!!")
    calm = text_cues("A slow, quiet and peaceful morning.")
    assert shouted.arousal > plain.arousal + 0.2
    assert calm.arousal < plain.arousal - 0.1


def test_category_cue_gives_valence_where_vader_finds_none():
    # No VADER sentiment word, but an anxiety cue: the valence leans negative.
    c = text_cues("The biopsy results come tomorrow.")
    assert c.valence < -0.1


def test_curly_apostrophes_match():
    assert "excited" in text_cues("I can\u2019t wait for Friday").categories


def test_empty_and_symbol_only_text_is_neutral():
    for t in ("", "   ", "...", "?!"):
        c = text_cues(t)
        assert c.valence == 0 and c.evidence == 0 and 0 <= c.arousal <= 1


def test_not_a_string_is_a_text_error():
    with pytest.raises(TextError, match="str"):
        text_cues(b"bytes are not text")  # type: ignore[arg-type]


def test_ranges_hold_for_extreme_text():
    c = text_cues("FURIOUS!!!!! HATE HATE HATE it, so so so angry, RAGE!!! " * 5)
    assert -1 <= c.valence <= 1 and 0 <= c.arousal <= 1 and 0 <= c.evidence <= 1
