"""The chat prompt: what goes in, in which order, and how the budget trims it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from persona.core.emotion.base import EmotionTag
from persona.core.errors import TextError
from persona.core.memory.schema import Hit, Memory
from persona.core.persona.profile import Profile
from persona.core.persona.prompt import (
    EXAMPLE,
    NOTE,
    PromptOptions,
    build_messages,
    describe_emotion,
)

NOW = datetime(2026, 3, 17, 9, 30, tzinfo=timezone.utc)
PROFILE = Profile.model_validate({
    "identity": {"name": "Maya", "pronouns": "she/her"},
    "demographics": {"location": "Bergen", "occupation": "marine biologist"},
    "personality": {"dominant_emotion": "happy"},
    "memory": {"frequent_topics": ["cello", "grant", "Miso"]},
    "preference": {"likes": ["cardamom buns"], "reply_style": "brief and kind"},
})


def hit(text, score, day=14, emotion="neutral", speaker="person"):
    return Hit(Memory(text=text, ts=datetime(2026, 3, day, 12, tzinfo=timezone.utc),
                      emotion=emotion, speaker=speaker,
                      source="chat" if speaker == "assistant" else "text"), score)


X = len(EXAMPLE)  # the worked example's fixed turns, right after the system prompt


def asked(question: str) -> str:
    return "Question: " + question + ("\n" + NOTE if NOTE else "")


HITS = [hit("My cello lessons are every Thursday at seven.", 0.4, day=9),
        hit("I adopted a grey cat named Miso.", 0.9, day=11, emotion="happy"),
        hit("Miso hid under the sofa for three hours.", 0.6, day=12)]


def test_the_messages_in_order():
    history = [{"role": "user", "content": "Good morning!"},
               {"role": "assistant", "content": "Good morning, Maya."}]
    msgs = build_messages(PROFILE, HITS, history, "What is my cat called?",
                          EmotionTag("anxious", -0.5, 0.8, 0.7), now=NOW)
    assert [m["role"] for m in msgs] == ["system", *[e["role"] for e in EXAMPLE], "user",
                                         "assistant", "user"]
    system, last = msgs[0]["content"], msgs[-1]["content"]
    assert "personal assistant of Maya" in system and "Tuesday, 17 March 2026" in system
    assert "brief and kind" in system and "Lives in: Bergen." in system
    # What is what: memories are the person's words, earlier turns are not facts.
    assert "Maya's own diary notes" in system and "not facts" in system
    # Saying "I don't know" is taught by the example (a rule made the small model refuse
    # answerable questions), and its made-up brother is not in the system prompt.
    assert msgs[1:1 + X] == list(EXAMPLE) and EXAMPLE[-1]["content"] == "I don't know."
    assert "Often talks about: cello, grant, Miso." in system and "Usually feels: happy." in system
    assert "Age" not in system and "Dislikes" not in system  # unfilled fields say nothing
    assert msgs[1 + X:3 + X] == history
    assert last == (
        "Memories:\n"
        "1. [2026-03-09] My cello lessons are every Thursday at seven.\n"
        "2. [2026-03-12] Miso hid under the sofa for three hours.\n"
        "3. [2026-03-11, felt happy] I adopted a grey cat named Miso.\n\n"
        + asked("What is my cat called?") + "\n\n"
        "Current emotion: Maya sounds anxious (high arousal, negative) — respond calmly and "
        "supportively.")


def test_the_system_prompt_is_the_same_for_every_question():
    # A llama.cpp backend reuses the KV cache of the unchanged prefix: nothing that changes
    # per question (memories, emotion, the time of day) may come before the last message.
    a = build_messages(PROFILE, HITS, [], "What is my cat called?",
                       EmotionTag("sad", -0.6, 0.2, 0.9), now=NOW)
    b = build_messages(PROFILE, HITS[:1], [], "When is cello?",
                       now=NOW.replace(hour=23, minute=59))
    assert a[:1 + X] == b[:1 + X] and len(a) == len(b) == 2 + X


def test_emotion_line_only_when_it_says_something():
    def last(emotion):
        return build_messages(PROFILE, [], [], "Hi?", emotion, now=NOW)[-1]["content"]

    plain = asked("Hi?")
    assert last(None) == plain
    assert last(EmotionTag("neutral", 0.0, 0.3, 0.9)) == plain
    assert last(EmotionTag("sad", -0.6, 0.2, 0.2)) == plain  # too unsure to mention
    assert "sounds sad (low arousal, negative) — respond gently" in last(
        EmotionTag("sad", -0.6, 0.2, 0.8))
    assert describe_emotion(EmotionTag("excited", 0.7, 0.9, 0.9)) == (
        "The user sounds excited (high arousal, positive) — match their energy but stay brief.")


def test_assistant_memories_and_duplicates_are_left_out():
    hits = HITS + [hit("You said Miso is a dog.", 0.99, speaker="assistant"),
                   hit("I adopted a  grey cat named MISO.", 0.5)]
    last = build_messages(PROFILE, hits, [], "Cat?", now=NOW)[-1]["content"]
    assert "dog" not in last
    assert last.lower().count("adopted a grey cat") == 1


def test_the_question_is_not_repeated_from_the_history():
    history = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"},
               {"role": "user", "content": "What is my cat called?"}]
    msgs = build_messages(PROFILE, [], history, "What is my cat called?", now=NOW)
    assert [m["content"] for m in msgs[1 + X:]] == ["Hello", "Hi!",
                                                    asked("What is my cat called?")]


def test_only_the_last_turns_are_kept():
    history = [{"role": r, "content": f"turn {i}"}
               for i, r in enumerate(["user", "assistant"] * 5)]
    msgs = build_messages(PROFILE, [], history, "Q?", now=NOW,
                          options=PromptOptions(history_turns=4))
    assert [m["content"] for m in msgs[1 + X:-1]] == ["turn 6", "turn 7", "turn 8", "turn 9"]


def size(msgs):
    return sum(len(m["content"]) + 16 for m in msgs)


def test_budget_drops_the_least_relevant_memories_first():
    hits = [hit(f"Memory number {i} " + "filler words here " * 8, score=i / 10, day=1 + i)
            for i in range(10)]
    full = build_messages(PROFILE, hits, [], "Which memory?", now=NOW,
                          options=PromptOptions(max_memories=10, budget_chars=100_000))
    budget = size(full) - 400
    msgs = build_messages(PROFILE, hits, [], "Which memory?", now=NOW,
                          options=PromptOptions(max_memories=10, budget_chars=budget))
    last = msgs[-1]["content"]
    assert size(msgs) <= budget
    kept = [i for i in range(10) if f"Memory number {i} " in last]
    assert kept == list(range(10 - len(kept), 10)) and 0 < len(kept) < 10  # the best ones
    block, question = last.split("\n\n")
    assert "Memory number 9 " in block.split("\n")[-1]  # the best sits next to the question
    assert question == asked("Which memory?")


def test_budget_then_drops_old_turns_and_never_the_question():
    history = [{"role": r, "content": "x" * 300} for r in ["user", "assistant"] * 3]
    question = "Where do I live? " * 20
    msgs = build_messages(PROFILE, HITS, history, question, now=NOW,
                          options=PromptOptions(budget_chars=700))
    whole = asked(" ".join(question.split()))
    assert msgs[-1]["content"] == whole  # no memories, question whole
    assert len(msgs) == 2 + X  # every turn went
    tiny = build_messages(PROFILE, HITS, history, question, now=NOW,
                          options=PromptOptions(budget_chars=10))
    assert tiny[-1]["content"] == whole


@pytest.mark.parametrize("question, history, match", [
    ("   ", [], "question is empty"),
    ("Hi", [{"role": "system", "content": "x"}], "history turn must be"),
    ("Hi", [{"role": "user"}], "history turn must be"),
])
def test_bad_input(question, history, match):
    with pytest.raises(TextError, match=match):
        build_messages(PROFILE, [], history, question, now=NOW)


def test_an_empty_profile_still_makes_a_prompt():
    msgs = build_messages(Profile(), [], [], "Hello?", now=NOW)
    assert msgs[0]["content"].startswith("You are the personal assistant of the user")
    assert "About" not in msgs[0]["content"]
