"""The grounded benchmark's scoring: accepted answers, dates, and honest "don't know"."""

from __future__ import annotations

import json

import pytest

from benchmarks.bench_grounded import QUESTIONS
from benchmarks.grounding import KINDS, judge, mentions_date, retrieved, says_dont_know

HELDOUT = QUESTIONS.with_name("grounded_heldout.json")

KNOWN = ("I adopted a grey cat from the shelter today and named her Miso. "
         "My neighbour's dog barked all night again.")


@pytest.mark.parametrize("reply", [
    "I don't know your mother's name.",
    "I\u2019m not sure; you haven't told me that.",
    "You never mentioned your mother's name in your memories.",
    "I have no memory of that.",
    "There is no mention of your mother's name.",
    "Your memories don't say. I couldn't find it in your notes.",
    "Her name isn't mentioned anywhere.",
    "You don't know.",
])
def test_dont_know_phrasings_are_recognised(reply):
    assert says_dont_know(reply)
    assert judge({"kind": "unanswerable", "q": "What is my mother's name?"}, reply, KNOWN).correct


@pytest.mark.parametrize("reply", [
    "Your mother's name is Anna.",
    "Your neighbour's dog is called Rex.",
    "You know your mother well; she is kind.",
])
def test_a_made_up_answer_is_not_a_dont_know(reply):
    assert not judge({"kind": "unanswerable", "q": "What is my mother's name?"}, reply,
                     KNOWN).correct


def test_dont_know_that_still_guesses_a_name_is_not_honest():
    v = judge({"kind": "unanswerable", "q": "What is my neighbour's dog called?"},
              "I'm not sure, but I think the dog is called Rex.", KNOWN)
    assert v.says_dont_know and v.invented == ("Rex",) and not v.correct
    # Words it was told (the cat's name, the question's words) are not inventions.
    v = judge({"kind": "unanswerable", "q": "What is my neighbour's dog called?"},
              "I don't know; you only told me that the dog barked all night, and about Miso.",
              KNOWN)
    assert v.correct


@pytest.mark.parametrize("reply,ok", [
    ("On 2026-01-11.", True), ("You adopted her on 11 January.", True),
    ("January 11th, 2026", True), ("the eleventh of January", True), ("Jan. 11", True),
    ("In January.", False), ("On 1 January.", False), ("On January 12.", False),
])
def test_dates_are_accepted_in_several_forms(reply, ok):
    assert mentions_date(reply, "2026-01-11") is ok


def test_two_memory_questions_need_both_parts():
    item = {"kind": "two", "q": "?", "all": [["Lisbon"], ["nurse"]]}
    assert judge(item, "She lives in Lisbon and works as a nurse.").correct
    assert not judge(item, "She lives in Lisbon.").correct
    assert retrieved(item, ["Ingrid lives in Lisbon and works as a nurse"], [])
    assert not retrieved(item, ["Ingrid lives in Lisbon"], [])


@pytest.mark.parametrize("path, least", [(QUESTIONS, 60), (HELDOUT, 24)])
def test_the_question_sets_are_well_formed(path, least):
    items = json.loads(path.read_text(encoding="utf-8"))["questions"]
    kinds = [i["kind"] for i in items]
    assert len(items) >= least and set(kinds) <= set(KINDS)
    assert kinds.count("unanswerable") >= 12
    if path == QUESTIONS:
        assert set(kinds) == set(KINDS)
    else:  # held out: none of its questions is in the main set
        assert not {i["q"] for i in items} & {i["q"] for i in json.loads(
            QUESTIONS.read_text(encoding="utf-8"))["questions"]}
    for item in items:
        if item["kind"] == "two":
            assert len(item["all"]) >= 2, item
        elif item["kind"] == "date":
            assert item.get("date") or item.get("a"), item
        elif item["kind"] != "unanswerable":
            assert item["a"], item
