"""Issue 8, leak 8: the redactor on the labelled sentences in tests/data/redaction (how they
were made: the README there), per kind, with thresholds; and the new finders' edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_redaction import DATA, FRESH, evaluate
from persona.privacy.redaction import redact
from persona.privacy.spoken import digits_of

NEW_KINDS = ("id", "address", "postcode", "birthdate", "pin", "phone")


@pytest.mark.parametrize("path, min_recall", [(DATA, 0.9), (FRESH, 0.8)],
                         ids=["labelled", "fresh"])
def test_recall_and_precision_per_kind(path: Path, min_recall: float):
    scores = evaluate(path)
    for kind in NEW_KINDS:
        s = scores[kind]
        assert s.labelled >= 4, f"too few {kind} examples in {path.name}"
        assert s.recall >= min_recall, (kind, s.recall, s.missed)
    for kind, s in scores.items():
        if s.found:
            assert s.precision >= 0.9, (kind, s.precision, s.wrong)


@pytest.mark.parametrize("text, expected", [
    ("Her number is five five five, one two three four.", "Her number is [PHONE]."),
    ("my PIN is four eight two one", "my PIN is [PIN]"),
    ("The door code is 4821.", "The door code is [PIN]."),
    ("we moved to 12 baker street", "we moved to [ADDRESS]"),
    ("My passport number is 533401372.", "My passport number is [ID]."),
    ("The postcode is SW1A 1AA.", "The postcode is [POSTCODE]."),
    ("I was born on 3 March 1985.", "I was born on [BIRTHDATE]."),
    ("DNI 12345678Z", "DNI [ID]"),
])
def test_what_the_old_redactor_missed(text, expected):
    assert redact(text).text == expected


@pytest.mark.parametrize("text", [
    "We counted one two three four five six seven eight nine.",
    "Five, four, three, two, one, lift off!",
    "The meeting is on 3 March 2026.",
    "The code review took 45 minutes.",
    "I walked 5 miles down the road.",
    "My passport expires in 2031.",
])
def test_lookalikes_stay(text):
    assert redact(text).text == text


def test_digit_words():
    assert digits_of("oh seven seven double oh nine") == "077009"
    assert digits_of("triple two, 48") == "22248"
    assert digits_of("double") is None and digits_of("12 34") is None
