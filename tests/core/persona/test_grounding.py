"""The grounding gate: which reply sentences name something the model was not given.

Pure text (no model): the false positives that matter are a right answer reworded (numbers in
words or digits, a date reformatted, a possessive, an accent dropped, the person's name), and
the gate must stop plain inventions before they are shown or spoken.
"""

from __future__ import annotations

import pytest

from persona.core.persona.grounding import (
    HONEST_LINE,
    HONEST_REST,
    Grounding,
    SentenceGate,
    gate_text,
    invented_names,
    number_value,
)

KNOWN = ("You are the personal assistant of Maya Lindqvist. Today is Tuesday, 01 December "
         "2026. Memories:\n[2026-02-16] Long run along the fjord this morning, twelve "
         "kilometres.\n[2026-01-04] My name is Maya Lindqvist and I am thirty-four.\n"
         "[2026-01-11] I adopted a grey cat and named her Miso.\n[2026-04-26] The whole family "
         "met at her house in Ålesund.\n[2026-01-19] My sister Ingrid lives in Lisbon.\n"
         "[2026-02-09] My lessons are every Thursday evening at seven.\n"
         "Question: How far did I run?")


@pytest.mark.parametrize("sentence", [
    "You ran 12 kilometers along the fjord.",
    "You ran twelve kilometres.",
    "You are 34, Maya.",
    "You are thirty-four years old.",
    "You adopted Miso on January 11th, 2026.",
    "You adopted her on 11 January 2026.",
    "On 2026-01-11.",
    "The family met in Alesund.",
    "Ingrid's home is in Lisbon.",
    "Your lessons are on Thursday at 7:00 PM.",
    "It was in February, Maya Lindqvist.",
    "Lisbon.",  # a sentence-initial word is never a specific
    "Just a second, you ran one long run.",
    "I don't know.",
])
def test_a_right_answer_reworded_is_supported(sentence):
    assert Grounding.of(KNOWN).unsupported(sentence) == ()


@pytest.mark.parametrize("sentence, named", [
    ("Your mother is called Anna.", ("Anna",)),
    ("The grant was worth $20,000.", ("20,000",)),
    ("It cost fifty thousand kroner.", ("fifty", "thousand")),
    ("You ran 15 kilometres.", ("15",)),
    ("Your talk was called Kelp Futures.", ("Kelp", "Futures")),
    ("You studied at the University of Oslo.", ("University", "Oslo")),
])
def test_an_invented_specific_is_named(sentence, named):
    assert Grounding.of(KNOWN).unsupported(sentence) == named


def test_number_values():
    assert number_value("twelve") == number_value("12") == number_value("12th") == 12
    assert number_value("thirty-four") == 34 and number_value("twentieth") == 20
    assert number_value("20,000") == 20000 and number_value("3.5") == 3.5
    assert number_value("second") is None and number_value("kilometres") is None


def test_the_gate_ends_the_reply_at_the_first_invented_sentence():
    assert gate_text("Your mother is called Anna. She is kind.", KNOWN) == HONEST_LINE
    assert gate_text("Ingrid lives in Lisbon. She works at Santa Maria. Bye!", KNOWN) == \
        "Ingrid lives in Lisbon. " + HONEST_REST
    right = "You ran twelve kilometres.\nIt was cold and still."
    assert gate_text(right, KNOWN) == right  # white space kept as generated


def test_the_gate_releases_each_sentence_only_when_it_is_complete_and_checked():
    gate = SentenceGate(KNOWN, first_clause_words=4)
    pieces = ["You", " ran", " twelve", " kilometres", ",", " Maya", ".", " Your", " mother",
              " is", " Anna", ".", " She", " is", " kind", "."]
    released = []
    for i, piece in enumerate(pieces):
        out = gate.feed(piece)
        released.append((i, out))
        if gate.stopped:
            break
    got = [(i, out) for i, out in released if out]
    # The first clause as soon as its comma arrives after a word, as speech cuts it; the
    # invented sentence never comes out, and the gate stops at once.
    assert got[0] == (4, ["You ran twelve kilometres,"])
    assert got[1] == (7, [" Maya."])
    assert got[2] == (12, [" " + HONEST_REST])
    assert gate.stopped and gate.blocked == ("Anna",)
    assert gate.feed(" More.") == [] and gate.flush() == []


def test_a_hedged_guess_is_still_an_invention():
    assert gate_text("I don't know her name, only Ingrid's.", KNOWN).startswith("I don't know")
    assert gate_text("I'm not sure, maybe Ulla?", KNOWN) == HONEST_LINE


def test_a_colour_is_a_specific():
    known = "I drive an old green Volvo."
    assert invented_names("Your Volvo is blue.", known) == ("blue",)
    assert invented_names("Your Volvo is green.", known) == ()
