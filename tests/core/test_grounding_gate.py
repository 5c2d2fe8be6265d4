"""The grounding gate in Pipeline.reply: an invented sentence is never shown or spoken.

Real LanceDB, embedder and prompt; the language model is scripted (it stands in for a model
that invents "Anna": a real small model cannot be made to invent on demand), and it records
how far it was read, to show that generation stops at the invented sentence.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from persona.core.memory.schema import Memory
from persona.core.persona.grounding import HONEST_LINE, HONEST_REST
from persona.core.pipeline import Pipeline
from tests.core.scripted_llm import ScriptedLLM


@pytest.fixture
def pipe(tmp_path):
    p = Pipeline(tmp_path / "home")
    p.store.add([Memory(text="My sister Ingrid lives in Lisbon and works as a nurse.",
                        source="text")])
    return p


def _today() -> str:
    day = datetime.now(timezone.utc).astimezone().date()  # the memories were stored today
    return f"{day.strftime('%A')}, {day.day} {day.strftime('%B %Y')}"


def _ask(pipe, reply: str, question: str = "Where does my sister live?"):
    pipe.__dict__["llm"] = llm = ScriptedLLM(reply)
    shown: list[str] = []
    out = pipe.reply(question, store_turns=False, on_text=shown.append)
    return out, "".join(shown), llm


def test_an_invented_name_ends_the_reply_before_it_is_shown(pipe):
    out, shown, llm = _ask(pipe, "Your sister is called Anna and she lives in Oslo. Bye now.",
                           "What is my sister's name?")
    # Instead: the one memory that holds the question's words, quoted and hedged.
    assert out.text == shown == (
        f'I\'m not sure, but on {_today()} you wrote: "My sister Ingrid lives in Lisbon and '
        'works as a nurse."')
    assert llm.read < len(llm.pieces)  # generation stopped at the invented sentence


def test_with_no_memory_to_quote_the_reply_says_it_has_none(pipe):
    pipe.store.add([Memory(text="My sister and I love jazz.", source="text")])
    out, shown, _ = _ask(pipe, "Your sister studied in Porto.", "Where did my sister study?")
    assert out.text == shown == HONEST_LINE


def test_a_question_about_what_no_memory_mentions_is_answered_without_the_model(pipe):
    out, shown, llm = _ask(pipe, "Your mother is Ingrid.", "What is my mother's name?")
    assert out.text == shown == "I don't know: I have no memory that mentions your mother."
    assert llm.prompts == []  # the model was not asked
    assert out.first_token_s is not None


def test_a_borrowed_name_for_the_wrong_person_is_stopped(pipe):
    pipe.store.add([Memory(text="My uncle sold me his old green Volvo.", source="text")])
    out, shown, _ = _ask(pipe, "Your uncle is Ingrid.", "What is my uncle's name?")
    assert "Ingrid" not in out.text and out.text == shown == (
        f'I\'m not sure, but on {_today()} you wrote: "My uncle sold me his old green Volvo."')


def test_grounded_sentences_pass_and_a_later_invention_is_cut(pipe):
    out, shown, _ = _ask(pipe, "Ingrid lives in Lisbon. She works at Hospital Santa Maria.")
    assert out.text == shown == "Ingrid lives in Lisbon. " + HONEST_REST


def test_a_grounded_reply_is_unchanged(pipe):
    reply = "Your sister Ingrid lives in Lisbon, Maya's favourite city? No: she works there."
    out, shown, _ = _ask(pipe, reply.replace("Maya's favourite city? No: ", ""))
    assert out.text == shown == "Your sister Ingrid lives in Lisbon, she works there."


def test_the_setting_turns_the_gate_off(pipe):
    pipe.settings = pipe.settings.model_copy(update={"grounding_gate": False})
    out, shown, _ = _ask(pipe, "Your mother is called Anna.", "What is my mother's name?")
    assert out.text == shown == "Your mother is called Anna."


def test_the_worked_example_of_the_prompt_is_not_known_text(pipe):
    # The rules' example names a made-up brother; the model must not be let through with
    # those names as facts about the person.
    from persona.core.persona.prompt import given_text

    out, _, llm = _ask(pipe, "Your sister lives in Lisbon.")
    given = given_text(llm.prompts[0])
    assert "Lisbon" in given and "Ingrid" in given
    assert "Ole" not in given.split() and "Oslo" not in given


def test_each_part_of_a_two_part_question_gets_its_own_prompt_and_gate(pipe):
    pipe.store.add([Memory(text="I adopted a grey cat and named her Miso.", source="text")])
    out, shown, llm = _ask(pipe, "Ingrid lives in Lisbon",
                           "Where does my sister live, and what is my cat's name?")
    assert [p[-1]["content"].rsplit("Question: ", 1)[1] for p in llm.prompts] == [
        "Where does my sister live?", "What is my cat's name?"]
    # The second answer talks about the sister again: its own gate stops it there and quotes
    # the memory about the cat.
    assert out.text == shown == ("Ingrid lives in Lisbon. I'm not sure, but on "
                                 f'{_today()} you wrote: "I adopted a grey cat and named her '
                                 'Miso."')
    assert [part for part, _, _ in out.parts] == ["Where does my sister live?",
                                                  "What is my cat's name?"]


def test_the_gate_s_word_vectors_can_be_computed_ahead(pipe):
    q = "Where does my sister live?"
    pipe.warm_focus(pipe.prompt_messages(q, pipe.search(q), []))
    cached = pipe.word_vectors._cache
    assert {"lisbon", "nurse"} <= set(cached) and "sister" not in cached  # people: by kind
    pipe.settings = pipe.settings.model_copy(update={"grounding_gate": False})
    cached.clear()
    pipe.warm_focus(pipe.prompt_messages(q, pipe.search(q), []))
    assert not cached  # no gate, nothing to compute
