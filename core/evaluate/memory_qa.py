"""In-sample questions about the person, made from their own memories, and their judging.

Regular expressions over the person's sentences find facts (who someone is, where they
live, what the person works as or is allergic to, when something is, what they think of
something) and turn each into a question with the answer words taken from the sentence. A
reply is right when it contains every answer word (an opinion: a word of the right leaning
and none of the other). Deterministic; a missed fact only means one question fewer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from persona.core.persona.extract import DISLIKES, LIKES, LOCATION, OCCUPATION, _object
from persona.core.persona.textstats import FUNCTION_WORDS, sentences, words

PEOPLE = ("sister|brother|mother|father|mum|mom|dad|best friend|friend|partner|wife|husband|"
          "daughter|son|boss|teacher|neighbour|neighbor|grandmother|grandfather|aunt|uncle|"
          "cousin|colleague|girlfriend|boyfriend|doctor")
PETS = "cat|dog|kitten|puppy|rabbit|horse|parrot|hamster"
MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
          "December")
_NAME = r"(?:(?:Mr|Mrs|Ms|Dr)\.? )?([A-Z][a-z]+)"
WHO = re.compile(rf"\b(?i:my) ({PEOPLE}),? (?:is called |is named |named |called )?{_NAME}")
PET = re.compile(rf"\b(?i:a|an|my) (?:\w+ )?({PETS})\b[^.!?]*?\bnamed (?:him |her |it )?"
                 r"([A-Z][a-z]+)")
LIVES = re.compile(rf"\b(?i:my) ({PEOPLE})(?: [A-Z][a-z]+)? lives in "
                   r"([A-Z][\w'-]+(?: [A-Z][\w'-]+)?)")
ALLERGY = re.compile(r"\bI(?: am|'m) allergic to ([^.,;!?]+)")
FAVOURITE = re.compile(r"\bmy favou?rite (\w+) (?:is|are) ([^.,;!?]+)", re.IGNORECASE)
WHEN = re.compile(rf"\b(?i:my|the|our) ([a-z]+(?: [a-z]+)?) (?:is|was|will be|are) "
                  rf"(?:[^.!?]*? )?(?:on|in) (?:the )?(?:[a-z]+ of )?(?:next )?({MONTHS})\b")
TRIP = re.compile(rf"\btrip to ([A-Z][\w'-]+) in ({MONTHS})\b")

POSITIVE = ("love", "loves", "like", "likes", "enjoy", "enjoys", "adore", "fond", "favourite",
            "favorite", "great")
NEGATIVE = ("hate", "hates", "dislike", "dislikes", "can't stand", "cannot stand",
            "don't like", "do not like", "doesn't like", "not fond", "annoying", "avoid")


@dataclass(frozen=True)
class QAPair:
    """One question about the person; ``answer`` is in the memory ``memory_id``."""

    question: str
    answer: str
    kind: str  # who, where, what, when, opinion
    memory_id: str
    polarity: str | None = None  # an opinion's leaning: "positive" or "negative"

    @property
    def answer_words(self) -> list[str]:
        """The words a right reply contains (function words left out)."""
        return [w for w in words(self.answer) if w not in FUNCTION_WORDS] or words(self.answer)


def _content(phrase: str, max_words: int = 4) -> str:
    return _object(phrase, max_words)


def pairs_in(text: str, memory_id: str) -> list[QAPair]:
    """The questions one memory's text answers."""
    out: list[QAPair] = []

    def add(question: str, answer: str, kind: str, polarity: str | None = None) -> None:
        if answer and any(w not in FUNCTION_WORDS for w in words(answer)):
            out.append(QAPair(question, answer, kind, memory_id, polarity))

    for s in sentences(text):
        for m in WHO.finditer(s):
            add(f"Who is my {m.group(1)}?", m.group(2), "who")
        for m in PET.finditer(s):
            add(f"What is my {m.group(1)}'s name?", m.group(2), "who")
        for m in LIVES.finditer(s):
            add(f"Where does my {m.group(1)} live?", m.group(2), "where")
        for p in LOCATION:
            for m in p.finditer(s):
                add("Where do I live?", m.group(1), "where")
        for m in OCCUPATION[0].finditer(s):
            add("What do I work as?", m.group(1), "what")
        for m in ALLERGY.finditer(s):
            add("What am I allergic to?", _content(m.group(1)), "what")
        for m in FAVOURITE.finditer(s):
            add(f"What is my favourite {m.group(1).lower()}?", _content(m.group(2)), "what")
        for m in WHEN.finditer(s):
            add(f"When is the {m.group(1)}?", m.group(2), "when")
        for m in TRIP.finditer(s):
            add(f"When is my trip to {m.group(1)}?", m.group(2), "when")
        for pattern, polarity in ((LIKES, "positive"), (DISLIKES, "negative")):
            for m in pattern.finditer(s):
                if "allergic" in m.group(0):
                    continue
                thing = _content(m.group(1), 3)
                if thing:
                    add(f"What do I think of {thing}?", polarity, "opinion", polarity)
    return out


def generate(memories: Iterable, limit: int | None = None) -> list[QAPair]:
    """Questions from the person's own memories (the assistant's words are skipped), one per
    question text, the kinds taken in turn so a short list covers each kind."""
    seen: set[str] = set()
    by_kind: dict[str, list[QAPair]] = {}
    for m in memories:
        if getattr(m, "speaker", "person") == "assistant":
            continue
        for pair in pairs_in(m.text, m.id):
            if pair.question.lower() not in seen:
                seen.add(pair.question.lower())
                by_kind.setdefault(pair.kind, []).append(pair)
    out: list[QAPair] = []
    queues = [list(v) for v in by_kind.values()]
    while any(queues) and (limit is None or len(out) < limit):
        for q in queues:
            if q and (limit is None or len(out) < limit):
                out.append(q.pop(0))
    return out


def _has(reply: str, phrase: str) -> bool:
    return re.search(r"\b" + re.escape(phrase) + r"\b", reply) is not None


def is_correct(pair: QAPair, reply: str) -> bool:
    """Whether ``reply`` answers ``pair``: every answer word in it; for an opinion, a word
    of the right leaning and none of the other ("I don't like" is not "like")."""
    said = " ".join(words(reply))
    if pair.polarity is not None:
        negative = any(_has(said, w) for w in NEGATIVE)
        if pair.polarity == "negative":
            return negative
        return not negative and any(_has(said, w) for w in POSITIVE)
    return all(_has(said, w) for w in pair.answer_words)


def accuracy(pairs: Sequence[QAPair], replies: Sequence[str]) -> float | None:
    """The share of ``replies`` that answer their pair; None for no questions."""
    if not pairs:
        return None
    return sum(is_correct(p, r) for p, r in zip(pairs, replies, strict=True)) / len(pairs)
