"""The unsupported-claim check (persona.core.persona.claims) with the real embedder's word
vectors, and its place in Pipeline.reply and `persona ask --json`."""

from __future__ import annotations

import json

import pytest

from persona.core.memory.embed import Embedder
from persona.core.persona.claims import ClaimCheck, is_statement, statements
from persona.core.persona.focus import WordVectors
from persona.core.persona.grounding import HONEST_LINE

DIARY = [
    "1. [2026-01-11] I adopted a grey cat from the shelter today and named her Miso.",
    "2. [2026-01-19] My sister Ingrid lives in Lisbon and works as a nurse.",
    "3. [2026-02-09] My cello teacher is called Mr. Haugen; lessons are every Thursday.",
    "4. [2026-03-08] My best friend Tomas got engaged to Lea! The wedding will be in Porto.",
]


@pytest.fixture(scope="module")
def check():
    return ClaimCheck(DIARY, WordVectors(Embedder().encode), person="Maya Lindqvist")


def flagged(check, reply: str) -> list[str]:
    return [c.sentence for c in check.unsupported(reply)]


def test_an_invented_fact_is_flagged_and_a_remembered_one_passes(check):
    reply = "Your sister Ingrid lives in Lisbon. She moved there from Oslo five years ago."
    claims = check.unsupported(reply)
    assert [c.sentence for c in claims] == ["She moved there from Oslo five years ago."]
    assert "Oslo" in claims[0].missing and "five" in claims[0].missing


def test_a_remembered_word_from_the_wrong_memory_is_flagged(check):
    # Porto is remembered, but with Tomas's wedding, not with the sister.
    assert flagged(check, "Your sister Ingrid lives in Porto.") == [
        "Your sister Ingrid lives in Porto."]
    assert flagged(check, "Your cello lessons are on Tuesdays.") != []  # wrong weekday
    assert flagged(check, "You adopted Miso in March.") != []  # the memory is from January


def test_paraphrases_and_dates_of_the_memory_pass(check):
    assert flagged(check, "You adopted Miso, a grey cat, in January. Your sister is a nurse "
                          "in Lisbon. Your cello lessons are on Thursdays with Mr. Haugen.") == []


@pytest.mark.parametrize("reply", [
    "I don't know.", HONEST_LINE, "I don't know: I have no memory that mentions your mother.",
    'I\'m not sure, but on Sunday, 11 January 2026 you wrote: "I adopted a grey cat."',
    "Would you like to tell me about your brother?", "I hope that helps!", "Hello Maya!",
    "That must have been frustrating.", "Thank you for telling me.", "You're welcome.",
    "You wrote that on Sunday, 11 January 2026."])
def test_refusals_quotes_greetings_and_questions_are_never_flagged(check, reply):
    assert not is_statement(statements(reply)[0])
    assert flagged(check, reply) == []


def test_more_evidence_is_asked_for_only_for_a_failing_sentence(check):
    asked = []

    def more(sentence):
        asked.append(sentence)
        return ["5. [2026-04-12] I am planning a trip to Iceland in July."]

    assert check.unsupported("Your cat is Miso. You are going to Iceland in July.",
                             more=more) == []
    assert asked == ["You are going to Iceland in July."]


def test_ask_json_lists_the_unsupported_statements(tmp_path, monkeypatch, capsys):
    # A scripted model stands in: a real small model cannot be made to add an unremembered
    # detail on demand. The reply passes the grounding gate (no new name or number).
    from persona.core.cli import commands, main
    from persona.core.memory.schema import Memory
    from persona.core.pipeline import Pipeline
    from tests.core.scripted_llm import ScriptedLLM

    pipe = Pipeline(tmp_path / "home")
    pipe.store.add([Memory(text="My sister Ingrid lives in Lisbon and works as a nurse.")])
    pipe.__dict__["llm"] = ScriptedLLM(
        "Your sister Ingrid lives in Lisbon. She also teaches yoga at weekends.")
    monkeypatch.setattr(commands, "_pipeline", lambda _args: pipe)
    assert main(["ask", "--home", str(tmp_path / "home"), "--json",
                 "Where does my sister live?"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reply"] == "Your sister Ingrid lives in Lisbon. She also teaches yoga at weekends."
    assert out["unsupported"] == [{"sentence": "She also teaches yoga at weekends.",
                                   "missing": ["teaches", "yoga", "weekends"]}]


def test_what_the_person_just_said_is_evidence_but_a_question_is_not(check):
    from persona.core.persona.claims import reply_claims

    vectors = check._focus.vectors
    assert reply_claims("You had a rough day at work.", [], vectors,
                        said="I had a rough day at work today.") == []
    flagged = reply_claims("Your favourite colour is blue.", [], vectors,
                           said="What is my favourite colour?")
    assert [c.sentence for c in flagged] == ["Your favourite colour is blue."]
    assert reply_claims("I am fine, thanks.", [], vectors, said="How are you?") == []
