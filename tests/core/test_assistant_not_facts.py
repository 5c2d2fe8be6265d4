"""The assistant's own earlier replies are never presented to the model as memories.

A reply is stored as a chat memory; it may be wrong ("your cat is called Rex"). Retrieval,
the prompt's memories and the induced profile must never offer it as a fact about the
person; in the current conversation it is an assistant turn (conversation), and the system
prompt says such turns are not facts. Real LanceDB and embedder; the language model only
records the prompt it is given (what it would answer is not what this test checks, and a real
model would add seconds and nothing to the check).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from persona.core.memory.schema import Memory, now_utc
from persona.core.pipeline import Pipeline
from tests.core.scripted_llm import ScriptedLLM

FALSE = "Your cat is called Rex and she is a black labrador."


@pytest.fixture
def pipe(tmp_path):
    p = Pipeline(tmp_path / "home")
    p.store.add([
        Memory(text="I adopted a grey cat from the shelter and named her Miso.",
               source="text", ts=now_utc() - timedelta(days=30)),
        # An earlier, finished conversation: the question and a wrong reply to it.
        Memory(text="What is my cat called?", source="chat", speaker="person",
               conversation_id="old", ts=now_utc() - timedelta(days=2)),
        Memory(text=FALSE, source="chat", speaker="assistant", conversation_id="old",
               ts=now_utc() - timedelta(days=2, seconds=-5)),
    ])
    p.__dict__["llm"] = ScriptedLLM("OK")  # the component, replaced before first use
    return p


def _memories_block(messages) -> str:
    return messages[-1]["content"].split("Question:")[0]


def test_a_stored_wrong_reply_is_never_retrieved_or_shown_as_a_memory(pipe):
    assert all(h.memory.speaker == "person" for h in pipe.search("cat called Rex labrador"))
    reply = pipe.reply("What is my cat called?", store_turns=False)
    assert "Rex" not in " ".join(h.memory.text for h in reply.hits)
    (messages,) = pipe.llm.prompts
    assert "Miso" in _memories_block(messages)
    assert not any("Rex" in m["content"] for m in messages)  # the old talk is over
    profile, _ = pipe.induce_profile()
    assert "Rex" not in profile.model_dump_json()


def test_in_the_current_talk_a_wrong_reply_is_conversation_not_a_memory(pipe):
    pipe.reply("What is my cat called?")  # stored as turns of a new conversation
    wrong = "As I said, your cat Rex is a black labrador."  # not a duplicate of FALSE
    pipe.store.add([Memory(text=wrong, source="chat", speaker="assistant",
                           conversation_id=pipe.store.list(limit=1, source="chat")[0]
                           .conversation_id)])
    pipe.reply("Is my cat a dog?")
    messages = pipe.llm.prompts[-1]
    system, turns, last = messages[0], messages[1:-1], messages[-1]
    assert [t["content"] for t in turns if "Rex" in t["content"]] == [wrong]
    assert all(t["role"] == "assistant" for t in turns if "Rex" in t["content"])
    assert "Rex" not in last["content"] and "Miso" in _memories_block(messages)
    assert "not facts" in system["content"] and "own diary notes" in system["content"]


def test_the_persons_own_earlier_question_is_not_evidence(pipe):
    # Asked again, the old question matches best; it tells nothing, and quoted back it
    # would be offered as the answer. It stays findable in the memory browser.
    asked = "What is my cat called?"
    assert asked in [h.memory.text for h in pipe.search(asked)]
    assert asked not in [h.memory.text for h in pipe.recall(asked)]
    reply = pipe.reply(asked, store_turns=False)
    assert asked not in [h.memory.text for h in reply.hits]
    assert asked not in _memories_block(pipe.llm.prompts[-1])
    assert "Miso" in _memories_block(pipe.llm.prompts[-1])
