"""Which statements of a finished reply no memory supports: the unsupported-claim check.

The grounding gate (grounding.py) stops, while a reply streams, a sentence that names a
specific the model was never given. This check runs after the reply is complete and asks
more of each statement about the person: that *one* memory (or profile line, or earlier turn)
holds what it says together. A content word or name is *anchored* when a memory holds it
(the same word stem, a close word by vector, or a number of the same value) and that memory
also holds another of the sentence's content words. "Your sister Ingrid lives in Porto" is
flagged: Porto is remembered, but from Tomas's wedding, not with the sister; so is "Your
cello lessons are on Tuesdays" (no memory says Tuesday) and "You adopted Miso in February"
(the memory about Miso was written in January).

What counts as a statement: a declarative sentence that speaks of someone (you, I, she, a
name) or names a number or a day. Questions, "I don't know" lines, the gate's hedged quotes
of a memory, greetings, thanks, sympathy ("That must have been hard") and the assistant's
talk about itself ("I hope that helps", "Let me know if ...") are never flagged; a small model's answer in the
person's voice ("I am allergic to peanuts") is a statement like "You are ...". Names,
numbers, colours, weekdays and months must be anchored; of the other words a few may be new (a
paraphrase adds words: "You felt overjoyed") — see ``ClaimOptions``. It reads words, not
meaning: "Your sister does not live in Lisbon" passes, since every word is remembered
together, and so does a garbled answer made of remembered words. benchmarks/bench_claims.py
measures precision and recall on hand-labelled sentences: replies written for the check
(tests/data/claims_labelled.json) and real replies of the default model (claims_live.json).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from persona.core.persona.focus import SAME, Focus, WordVectors, _written, given_units
from persona.core.persona.grounding import (
    COLOURS,
    COMMON,
    DAYS,
    MONTHS,
    Grounding,
    _tokens,
    fold,
    norm,
    number_value,
    says_dont_know,
)
from persona.core.persona.question import FUNCTION, stem, words
from persona.core.tts.sentences import SentenceSplitter

# Chat words that say nothing about the person ("That sounds lovely, you must be proud").
SOFT = frozenset({
    "lovely", "wonderful", "nice", "good", "well", "glad", "hope", "hear", "sorry", "must",
    "seems", "seem", "sound", "feel", "felt", "feeling", "quite", "pretty", "lot", "lots",
    "thing", "things", "something", "anything", "everything", "way", "kind", "bit", "little",
    "one", "time", "times", "day", "get", "got", "make", "made", "take", "took", "let",
    "really", "actually", "definitely", "certainly", "probably", "especially", "wrote",
    "write", "written", "noted", "mention", "diary", "note", "notes", "remembered", "recall",
    "yourself", "you're", "you've", "you'd", "you'll", "she's", "he's", "it's", "that's",
    "there's", "they're", "what's", "can't", "don't", "didn't", "isn't", "wasn't", "also",
    "such", "both", "someone", "people", "person", "other", "another", "like", "love",
    "loves", "loved", "which", "called", "named", "name", "welcome", "thanks", "sharing",
    "i'm", "i've", "i'd", "i'll", "we're", "we've"})


def _opening(*phrases: str) -> re.Pattern:
    return re.compile(r"^(?:" + "|".join(phrases) + r")\b")


# The assistant speaking of itself (small models also answer as the person, "I am allergic
# to peanuts": those are statements, so only the assistant's own turns of phrase are here).
_SELF = _opening(r"i(?:'m| am) (?:glad|happy to|sorry|here|not able|fine|good|well|doing)",
                 "i hope", "i think", "i see", "i understand", "i can help", "i'd be happy",
                 "i'll", "let me", "happy to", "glad to")
# Offers, greetings, thanks and exclamations: chat, not statements.
_CHAT = _opening("let me know", "feel free", r"if you (?:want|need|like|wish|ever)",
                 "is there anything", "do you want", "would you like", "hello", "hi", "hey",
                 "dear", r"good (?:morning|afternoon|evening|night)", "thanks", "thank you",
                 "you're welcome", "no problem", "of course", "sure", "okay", "ok", "bye",
                 "goodbye", "take care", r"have a (?:nice|good|great|lovely|wonderful)",
                 "congratulations", "congrats", "oh", "wow", "what a")
_PERSONAL = re.compile(r"\b(?:you|your|yours|yourself|you're|you've|you'd)\b")
# Someone a statement can be about: the person (as "you", or as "I" in their own voice) or
# someone in their life.
_PRONOUNS = frozenset({"you", "your", "yours", "you're", "you've", "you'd", "i", "i'm", "i've",
                       "i'd", "my", "me", "mine", "we", "our", "us", "she", "he", "they",
                       "her", "his", "him", "their", "them", "she's", "he's", "they're"})
_SOMEONE = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in _PRONOUNS) + r")(?![\w'])")
_NAMED = re.compile(r"\b(?:called|named|Mr|Mrs|Ms|Dr)\.?\s+(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?"
                    r"([A-Z][\w'-]*)")
# The gate's hedged quote of a memory, and its line with a memory's date.
_QUOTE = re.compile(r"\byou wrote(?: that)?\b[^\"]*[\"\u201c]|^you wrote that on\b")


@dataclass
class ClaimOptions:
    # Cosine at which a reply's word counts as a memory's word (a paraphrase):
    # focus.SAME, measured there (instructor~teacher 0.73 is, car~volvo 0.59 is not).
    similar: float = SAME
    # Plain content words a supported statement may add, per this many of its words.
    new_words_per: int = 3


@dataclass(frozen=True)
class Claim:
    """A statement of a reply that no memory supports, and the words that lack support."""

    sentence: str
    missing: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"sentence": self.sentence, "missing": list(self.missing)}


def statements(reply: str) -> list[str]:
    """The sentences of ``reply`` (cut where speech cuts them: "Mr. Haugen" stays whole)."""
    splitter = SentenceSplitter()
    return [s.strip() for s in splitter.feed(reply) + splitter.flush() if s.strip()]


def is_statement(sentence: str) -> bool:
    """Whether ``sentence`` states something about the person that needs a memory: it speaks
    of someone (you, I, she, a name) or names a number or a day, and it is not a question,
    an "I don't know", a hedged quote of a memory, a greeting or thanks, or the assistant
    about itself. "That must have been frustrating" states nothing to look up."""
    low = norm(sentence).strip()
    if not low or low.endswith("?") or says_dont_know(low) or _QUOTE.search(low) \
            or _CHAT.match(low):
        return False
    if _SELF.match(low) and not _PERSONAL.search(low):
        return False
    return bool(_SOMEONE.search(low)) or _names_something(sentence)


def _names_something(sentence: str) -> bool:
    """A name (a capitalised word that is not a common word), a number, a colour, a day or
    a month."""
    for i, tok in enumerate(_tokens(sentence)):
        low = norm(tok).strip("'")
        if number_value(low) is not None or low in COLOURS or low.rstrip("s") in DAYS + MONTHS:
            return True
        if tok[:1].isupper() and low not in COMMON and (i or low not in _PRONOUNS):
            return True
    return False


@dataclass(frozen=True)
class _Word:
    text: str  # as said
    key: str  # its stem
    specific: bool  # a name, number, colour, weekday or month: must be anchored


def content_words(sentence: str) -> list[_Word]:
    """The words of ``sentence`` that carry its content, each once."""
    out: dict[str, _Word] = {}
    toks = _tokens(sentence)  # "thirty-four" is one number, as the gate reads it
    for i, tok in enumerate(toks):
        low = norm(tok).strip("'")
        if number_value(low) is not None:
            out.setdefault(low, _Word(tok, low, True))
            continue
        if len(low) < 3 or low in FUNCTION or low in SOFT:
            continue
        name = tok[:1].isupper() and i > 0  # the first word is capitalised anyway
        specific = name or low in COLOURS or low in DAYS or low in MONTHS or \
            low.rstrip("s") in DAYS
        out.setdefault(stem(low), _Word(tok, stem(low), specific))
    return list(out.values())


class ClaimCheck:
    """The statements of replies checked against ``evidence`` (memory lines as the prompt
    numbers them, "3. [2026-01-19] My sister ...", profile lines, earlier turns); a memory
    line's date is read as focus.py reads it."""

    def __init__(self, evidence: Sequence[str], vectors: WordVectors | None = None, *,
                 person: str = "", options: ClaimOptions | None = None) -> None:
        self.evidence = [u for u in evidence if u.strip()]
        self.options = options or ClaimOptions()
        self.person = {stem(w) for w in words(person)}
        self._focus = Focus("", self.evidence, vectors)
        self._grounding = [Grounding.of(u) for u in self.evidence]
        # A memory's date stands for "when" only if its text names no month or weekday of
        # its own: "the course is in June", written in May, does not say May.
        self._dates = [_written(u) for u in self.evidence]
        self._says = [{k for k, names in (("month", MONTHS), ("day", DAYS))
                       if set(names) & set(re.findall(r"[a-z]+", norm(u)))}
                      for u in self.evidence]

    def _holds(self, word: _Word, unit: int) -> bool:
        low = norm(word.text).strip("'")
        value = number_value(low)
        if value is not None:
            return value in self._grounding[unit].numbers
        day, when = self._dates[unit], low.rstrip("s")
        if day is not None and (when == day.strftime("%A").lower() and "day" not in
                                self._says[unit] or when == day.strftime("%B").lower()
                                and "month" not in self._says[unit]):
            return True  # "on Sunday" / "in January": the day the memory was written
        if word.specific:  # a name or colour: itself, possessive or accents aside
            base = low.removesuffix("'s").removesuffix("'")
            return bool({low, base, fold(base), word.key} & self._grounding[unit].words)
        return self._focus.holds(low, unit, self.options.similar)

    def missing(self, sentence: str) -> tuple[str, ...]:
        """The words of ``sentence`` no memory holds together with the rest ((): supported,
        or not a statement)."""
        if not is_statement(sentence):
            return ()
        # The person's name said in passing names nothing; said as a name ("is called
        # Mr. Lindqvist") it is a claim like any other.
        named = {stem(w) for w in _NAMED.findall(sentence)}
        said = [w for w in content_words(sentence)
                if w.key not in self.person or w.key in named]
        if not said:
            return ()
        held = [{i for i, w in enumerate(said) if self._holds(w, u)}
                for u in range(len(self.evidence))]
        # Anchored: held by a memory that holds another of its words too (or is the only one).
        anchored = set().union(*(h for h in held if len(h) >= min(2, len(said))), set())
        loose = [w for i, w in enumerate(said) if i not in anchored]
        plain = [w for w in loose if not w.specific]
        allowed = len([w for w in said if not w.specific]) // self.options.new_words_per
        if any(w.specific for w in loose) or len(plain) > allowed:
            return tuple(w.text for w in loose)
        return ()

    def unsupported(self, reply: str, more: Callable[[str], Sequence[str]] | None = None
                    ) -> list[Claim]:
        """The statements of ``reply`` no evidence supports. ``more(sentence)`` may give
        further evidence for a sentence that fails (a fresh retrieval for it)."""
        out = []
        for sentence in statements(reply):
            lacking = self.missing(sentence)
            if lacking and more is not None:
                extra = [u for u in more(sentence) if u not in self.evidence]
                if extra:
                    wider = ClaimCheck(self.evidence + extra, self._focus.vectors,
                                       options=self.options)
                    wider.person = self.person
                    lacking = wider.missing(sentence)
            if lacking:
                out.append(Claim(sentence, lacking))
        return out


def reply_claims(text: str, prompts: Sequence[list[dict[str, str]]],
                 vectors: WordVectors | None = None, *, person: str = "",
                 search: Callable[[str], Sequence[str]] | None = None, said: str = "",
                 options: ClaimOptions | None = None) -> list[Claim]:
    """The unsupported statements of a finished reply ``text``, checked against what its
    ``prompts`` (build_messages', one per part of the question) gave the model, then, for a
    sentence that fails, against ``search(sentence)`` (memory lines of a fresh retrieval).
    ``said``: the person's message; when it is not a question, it is evidence too."""
    evidence: list[str] = []
    for messages in prompts:
        evidence += [u for u in given_units(messages) if u not in evidence]
    if said and not said.rstrip().endswith("?"):
        evidence.append(said)  # what the person has just told ("I had a rough day")
    return ClaimCheck(evidence, vectors, person=person, options=options).unsupported(
        text, more=search)
