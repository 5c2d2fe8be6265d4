"""The chat messages for one question: persona, memories, conversation, emotion, question.

The default models are small, so the prompt is short and ordered for them and for the KV
cache: a system prompt that is the same for every question (the filled profile fields, today's
date, and the rules: memories are the person's own dated notes, earlier turns are
conversation and not facts, answer only from the memories and the profile), a fixed worked
example (two turns: one answered from a memory, one answered "I don't know"), the recent
turns, then one user message with the numbered memories (the most relevant last, right before
the question), the current emotion and the question. A character budget caps the whole
prompt: the least relevant memories go first, then the oldest turns, then the profile's
longer lists. What the reply may name is checked by the grounding gate (grounding.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from persona.core.emotion.base import EmotionTag
from persona.core.errors import TextError
from persona.core.memory.schema import Hit, text_hash
from persona.core.persona.profile import Profile

# What is what, and to answer only from it. Stable text (the KV cache of the system prompt is
# reused across questions); kept short for small models. Measured on the grounded benchmark
# with Qwen2.5-Coder-0.5B (benchmarks/RESULTS.md): an explicit "if they do not say, reply
# 'I don't know'" in the rules or after the question made it refuse half of the questions it
# could answer, so refusing is taught by the worked example below and enforced by the
# grounding gate (persona.core.persona.grounding), not by a rule.
RULES = ("Each question comes with numbered memories: {name}'s own diary notes, each with its "
         "date. Answer {name}'s question using only these memories and the profile above. "
         "Earlier messages of this chat are conversation, not facts. Speak to {name} as "
         "\"you\", in a {style} way.")

# A worked example as two fixed chat turns after the system prompt (part of the cached
# prefix): one answered from a memory, one the memories do not answer. Its names are no
# facts about the person: given_text leaves it out of what the grounding gate accepts. Its
# second memory has no colour or place to borrow: with "I bought a red bike" here, Qwen 0.5B
# answered "What colour is my car?" with "red".
_EXAMPLE_MEMORIES = ("Memories:\n1. [2026-01-02] My brother Ole lives in Oslo and works as a "
                     "baker.\n2. [2026-01-05] I signed up for a pottery class.\n\nQuestion: ")
EXAMPLE = (
    {"role": "user", "content": _EXAMPLE_MEMORIES + "Where does my brother live?"},
    {"role": "assistant", "content": "Your brother Ole lives in Oslo."},
    {"role": "user", "content": _EXAMPLE_MEMORIES + "What is my brother's wife called?"},
    {"role": "assistant", "content": "I don't know."},
)

# Said after every question when not empty; measured worse than nothing (see RULES).
NOTE = ""

# How to answer each emotion; neutral says nothing (no line, fewer tokens).
GUIDANCE = {
    "anxious": "respond calmly and supportively",
    "sad": "respond gently and with warmth",
    "angry": "respond calmly, acknowledge the frustration, do not argue",
    "happy": "share their good mood",
    "excited": "match their energy but stay brief",
    "calm": "keep a relaxed, easy tone",
}


@dataclass
class PromptOptions:
    budget_chars: int = 2800  # ~700 tokens at ~4 characters a token (400: the example)
    max_memories: int = 5
    memory_chars: int = 240  # one memory is cut to this length
    history_turns: int = 6  # messages, not pairs (Settings.history_turns)
    turn_chars: int = 400
    min_emotion_confidence: float = 0.3
    # Memories in the order given, not best first: a live voice turn prefills them while the
    # person speaks, and reordering would make the model read them all again.
    keep_order: bool = False


def describe_emotion(tag: EmotionTag, who: str = "The user") -> str:
    """"The user sounds anxious (high arousal, negative) — respond calmly and supportively."""
    arousal = "high" if tag.arousal >= 0.6 else "low" if tag.arousal <= 0.35 else "moderate"
    valence = ("positive" if tag.valence > 0.2 else "negative" if tag.valence < -0.2
               else "neutral")
    return (f"{who} sounds {tag.label} ({arousal} arousal, {valence}) — "
            f"{GUIDANCE.get(tag.label, 'respond naturally')}.")


def memory_line(hit: Hit, limit: int, tz=None) -> str:
    """"[2026-03-14, felt happy] I adopted a cat named Miso" (the date in ``tz``)."""
    m = hit.memory
    text = " ".join(m.text.split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    feeling = f", felt {m.emotion}" if m.emotion != "neutral" else ""
    return f"[{m.ts.astimezone(tz).date().isoformat()}{feeling}] {text}"


def system_prompt(profile: Profile, now: datetime, *, lists: int = 5) -> str:
    """A compact description of the person from the filled fields only; ``lists`` caps each
    list (facts, topics, likes) so the budget can shrink it."""
    p = profile
    name = p.identity.name or "the user"
    about: list[str] = []

    def add(label: str, value) -> None:
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value[:lists])
        if value not in (None, "", []):
            about.append(f"{label}: {value}." if label else f"{value}.")

    add("Pronouns", p.identity.pronouns)
    add("", p.identity.summary.rstrip("."))
    add("Age", p.demographics.age)
    add("Lives in", p.demographics.location)
    add("Works as", p.demographics.occupation)
    add("Speaks", p.demographics.languages)
    add("Personality", p.personality.traits)
    if p.personality.dominant_emotion not in ("", "neutral"):
        add("Usually feels", p.personality.dominant_emotion)
    add("Often talks about", p.memory.frequent_topics)
    add("Likes", p.preference.likes)
    add("Dislikes", p.preference.dislikes)
    # No "Facts" line: the key facts are memories, retrieved when they matter; listed here
    # the small model answered from them whatever was asked.
    style = p.preference.reply_style or "short, warm and direct"
    head = (f"You are the personal assistant of {name}; you know {name} well. "
            f"Today is {now.strftime('%A, %d %B %Y')}.")
    about_line = "\nAbout " + name + ": " + " ".join(about) if about else ""
    return head + about_line + "\n" + RULES.format(name=name, style=style)


def build_messages(profile: Profile, hits: list[Hit], history: list[dict[str, str]],
                   question: str, emotion: EmotionTag | None = None,
                   now: datetime | None = None,
                   options: PromptOptions | None = None) -> list[dict[str, str]]:
    """The messages for ``LLMBackend.stream_chat``; see the module docstring for the order."""
    opt = options or PromptOptions()
    question = " ".join(str(question or "").split())
    if not question:
        raise TextError("The question is empty; say or type something to ask.")
    for turn in history:
        if turn.get("role") not in ("user", "assistant") or not isinstance(
                turn.get("content"), str):
            raise TextError(f"A history turn must be {{'role': 'user'|'assistant', 'content': "
                            f"str}}, not {turn!r}.")
    now = now or datetime.now(timezone.utc)

    # Best first, each memory once, only the person's own words (the assistant's earlier
    # replies could feed the model its own mistakes).
    seen, ranked = set(), []
    for h in (hits if opt.keep_order else sorted(hits, key=lambda h: -h.score)):
        if h.memory.speaker != "assistant" and h.memory.hash not in seen:
            seen.add(h.memory.hash)
            ranked.append(h)
    kept = ranked[: opt.max_memories]
    turns = [{"role": t["role"], "content": _cut(t["content"], opt.turn_chars)}
             for t in history[-opt.history_turns:] if opt.history_turns > 0]
    if text_hash(question) in {text_hash(t["content"]) for t in turns[-1:]}:
        turns = turns[:-1]  # the caller already appended the question to the history
    who = profile.identity.name or "the user"
    feeling = (describe_emotion(emotion, who) if emotion and emotion.label != "neutral"
               and emotion.confidence >= opt.min_emotion_confidence else "")

    lists = 5
    while True:
        memories = [memory_line(h, opt.memory_chars, now.tzinfo) for h in kept]
        if opt.keep_order:
            memories.reverse()  # _assemble lists them reversed
        messages = _assemble(system_prompt(profile, now, lists=lists), turns, memories,
                             feeling, question, who)
        if _size(messages) <= opt.budget_chars:
            return messages
        if kept:
            # The least relevant: the last of the best-first list, or the lowest score.
            del kept[min(range(len(kept)), key=lambda i: kept[i].score)
                     if opt.keep_order else -1]
        elif turns:
            turns = turns[2:] if len(turns) > 1 else []  # the oldest exchange
        elif lists > 1:
            lists -= 1
        else:
            return messages  # only the essentials are left: never cut the question


def _assemble(system: str, turns: list[dict[str, str]], memories: list[str], feeling: str,
              question: str, who: str) -> list[dict[str, str]]:
    parts = []
    if memories:
        # Listed least relevant first so the best memory sits right before the question.
        parts.append("Memories:\n" + "\n".join(
            f"{i}. {m}" for i, m in enumerate(reversed(memories), 1)))
    parts.append("Question: " + question + ("\n" + NOTE if NOTE else ""))
    if feeling:
        # After the question: a live turn reads the question's words while the person is
        # still speaking, and the emotion is known only at the release (core/live_turn.py).
        parts.append("Current emotion: " + feeling)
    return [{"role": "system", "content": system}, *EXAMPLE, *turns,
            {"role": "user", "content": "\n\n".join(parts)}]


def given_text(messages: list[dict[str, str]]) -> str:
    """What the model was given about the person (profile, today's date, memories,
    conversation, question): every message without the worked example, for the grounding
    gate (persona.core.persona.grounding)."""
    return "\n".join(m["content"] for m in messages if m not in EXAMPLE)


def _size(messages: list[dict[str, str]]) -> int:
    return sum(len(m["content"]) + 16 for m in messages)  # 16: the chat template's tags


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
