""""Speak as me": the prompt for answering in the person's own voice, as an AI replica.

The normal prompt (prompt.py) makes an assistant that talks to the person about their
memories. This one makes the model speak *as* the person: in the first person, in their
style (described from a stylometric profile of their own words: sentence length, favourite
phrases, punctuation habits), using the profile and the retrieved memories for what they
know. "How would I answer this invitation?" gets the answer the person would write. The
adapter trained on their words does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from persona.core.errors import TextError
from persona.core.evaluate.stylometry import StyleProfile
from persona.core.memory.schema import Hit
from persona.core.persona.profile import Profile
from persona.core.persona.prompt import PromptOptions, memory_line
from persona.core.persona.textstats import words

# Measured with Qwen2.5-Coder-0.5B: "You are {name} ... do not say you are an AI" made it
# refuse ("I'm sorry, but I can't assist with that.") or echo the message; helping the person
# write in their own voice gets their words.
AS_ME_RULES = ("You help {name} write in {name}'s own voice. Write what {name} would write, in "
               "the first person (\"I\", \"my\"), as {name}, in {name}'s style. Use only the "
               "memories and what is said about {name} above for facts. Reply with {name}'s "
               "words only. Keep it short.")


def style_hints(style: StyleProfile | None) -> str:
    """How the person writes, in words a small model can follow ("" without a profile)."""
    if style is None or style.words < 20:
        return ""
    length = ("short" if style.sentence_length < 11 else "long"
              if style.sentence_length > 20 else "medium-length")
    hints = [f"{length} sentences (about {round(style.sentence_length)} words)"]
    p = style.punctuation
    if p.get("!", 0) > 0.01:
        hints.append("exclamation marks")
    if p.get("?", 0) > 0.015:
        hints.append("questions")
    if p.get("'", 0) > 0.02:
        hints.append("contractions (I'm, don't)")
    if style.function_words.get("i", 0) > 0.04:
        hints.append("often about yourself (I, my)")
    phrases = [f'"{phrase}"' for phrase, _ in style.phrases[:3]]
    if phrases:
        hints.append("phrases like " + ", ".join(phrases))
    return "Style: " + "; ".join(hints) + "."


def as_me_system(profile: Profile, style: StyleProfile | None, now: datetime) -> str:
    p = profile
    name = p.identity.name or "the person"
    about = [x for x in (
        p.identity.summary.rstrip("."),
        f"Lives in {p.demographics.location}" if p.demographics.location else "",
        f"Works as {p.demographics.occupation}" if p.demographics.occupation else "",
        f"Personality: {', '.join(p.personality.traits[:5])}" if p.personality.traits else "",
        f"Likes: {', '.join(p.preference.likes[:5])}" if p.preference.likes else "",
        f"Dislikes: {', '.join(p.preference.dislikes[:5])}" if p.preference.dislikes else "",
    ) if x]
    lines = [f"Today is {now.strftime('%A, %d %B %Y')}."]
    if about:
        lines.append(f"About {name}: " + ". ".join(about) + ".")
    hints = style_hints(style)
    if hints:
        lines.append(hints)
    lines.append(AS_ME_RULES.format(name=name))
    return "\n".join(lines)


def as_me_messages(profile: Profile, hits: list[Hit], question: str,
                   style: StyleProfile | None = None, now: datetime | None = None,
                   options: PromptOptions | None = None) -> list[dict[str, str]]:
    """The messages for answering ``question`` as the person: a system text (who they
    are, how they write, the rules), then the memories and the message to answer."""
    opt = options or PromptOptions()
    question = " ".join(str(question or "").split())
    if not question:
        raise TextError("The message to answer is empty; type what you want answered as you.")
    now = now or datetime.now(timezone.utc)
    ranked = [h for h in sorted(hits, key=lambda h: -h.score) if h.memory.speaker != "assistant"]
    memories = [memory_line(h, opt.memory_chars, now.tzinfo) for h in ranked[:opt.max_memories]]
    parts = []
    if memories:
        parts.append("My memories:\n" + "\n".join(f"- {m}" for m in reversed(memories)))
    parts.append(question)  # as it is: a wrapper ("Answer this as me: ...") got it echoed
    return [{"role": "system", "content": as_me_system(profile, style, now)},
            {"role": "user", "content": "\n\n".join(parts)}]


_SENTENCE_END = re.compile(r"[.!?…]+[\"”')]*\s+")


def no_repeats(stream: Iterable[str]) -> Iterator[str]:
    """``stream`` a sentence at a time, ending before the first sentence said already: with
    no grounding gate to stop it, Qwen2.5-Coder-0.5B answering as the person looped on one
    ("I will be a witness to the wedding." fifteen times). The source is closed at the end."""
    it = iter(stream)
    seen: set[str] = set()
    buf = ""
    try:
        for piece in it:
            buf += piece
            while (m := _SENTENCE_END.search(buf)) is not None:
                sentence, buf = buf[:m.end()], buf[m.end():]
                key = " ".join(words(sentence))
                if key in seen:
                    return
                seen.add(key)
                yield sentence
        if buf.strip() and " ".join(words(buf)) not in seen:
            yield buf
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


STYLE_MEMORIES = 200  # the newest of the person's own memories describe how they write now


def style_of(texts: list[str]) -> StyleProfile | None:
    """The stylometric profile of the person's texts together (None without words)."""
    from persona.core.evaluate.stylometry import profile

    text = "\n".join(t for t in texts if t.strip())
    try:
        return profile(text) if text else None
    except TextError:
        return None


def person_style(store, limit: int = STYLE_MEMORIES) -> StyleProfile | None:
    """The style of the person's newest ``limit`` memories in ``store`` (their own words)."""
    return style_of([m.text for m in store.list(limit=limit, speaker="person")])
