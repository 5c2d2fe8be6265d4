"""What a question is about, and whether the memories the model was given speak of it.

The grounding gate (grounding.py) stops a reply that names something the model was not
given. It cannot see a reply that borrows a true name for the wrong thing: asked "What is my
mother's name?" with only the sister's memory at hand, a small model answers "Ingrid"; asked
about the neighbour's dog, it answers with the cat's name. Both failures have one shape: the
question is about something (its *focus*: "mother", "neighbour's dog") and the reply's words
come from a memory that is about something else.

So a question's focus is read from its noun phrases — the words after "my", "the", "which",
"what", "whose", "how much", … and the names in it — without the attribute words that ask
for a value rather than name a thing ("name", "colour", "city", "job": see SLOTS). Then:

- **Before the model runs** (:meth:`Focus.missing`): when the head word of a focus is in none
  of the given texts — not as itself, not as a close word ("grandma" for "grandmother", by
  word vectors) — the memories cannot answer, and the reply says so and names what is
  missing ("I have no memory that mentions your mother."), at once and without the model.
  "My favourite colour" is missing unless one text holds both words: a small model answers
  it with the favourite food.
- **While the reply streams** (:meth:`Focus.off_topic`): the words a sentence takes from the
  memories must mostly come from a memory that speaks of the focus, and a name must;
  "Miso" from the cat's memory does not answer a question about the neighbour's dog.
- **Instead of a bare "I don't know"** (:meth:`Focus.quote`): when one memory holds what was
  asked, it is quoted with its date, hedged. A "when" question answered without a date gets
  the date of the memory the reply's words come from (:meth:`Focus.date_line`).

The question's words are read in question.py; the pipeline answers a two-part question part
by part, each with its own focus.

Plainly what it cannot do: it reads words, not meaning. A paraphrase whose head word the
person never used ("Which *treat* do I love most?" when the diary says "favourite food")
is refused; a focus that is present while the asked-for detail is not ("What breed is my
cat?") passes to the model. The grounded benchmark measures both sides
(benchmarks/bench_grounded.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from persona.core.persona.grounding import MONTHS, norm, says_dont_know
from persona.core.persona.prompt import EXAMPLE, RULES
from persona.core.persona.question import (
    ADVICE,
    FUNCTION,
    PERSONAL,
    RELATIONS,
    REQUESTS,
    SLOTS,
    Phrase,
    parts_focus,
    question_focus,
    stem,
    words,
)

# Word-vector cosine at which a question's word counts as spoken of. all-MiniLM-L6-v2 on
# single words, measured: grandma~grandmother 0.94, living~lives 0.86, novel~book 0.77,
# car~volvo 0.59, instrument~cello 0.66 pass; film~book 0.46, hotel~house 0.44,
# university~station 0.30 do not. It cannot tell a kind from a sibling (mother~grandmother
# 0.68, brother~sister 0.65): those pass here and are caught by off_topic, which asks that
# the reply's words come from a memory about the focus.
SIMILAR = 0.5
# Closer still for a memory to count as *about* the focus when checking a reply's words:
# instructor~teacher 0.73 is, car~volvo 0.59 is not (then the focus says nothing either way).
SAME = 0.7

_WHEN = re.compile(r"^\s*when\b|\b(?:what|which)\s+(?:date|day)\b", re.IGNORECASE)
_HAS_DATE = re.compile(r"\d|\b(?:" + "|".join(MONTHS) + r")\b", re.IGNORECASE)  # a weekday is none
_UNIT_DATE = re.compile(r"^\d+\.\s\[(\d{4}-\d{2}-\d{2})")
_MEMORY_HEAD = re.compile(r"^\d+\.\s\[[^\]]*\]")
# "Maya, ..." / "Hi Maya! ..." at the start of a reply: greeting the person names no fact.
_VOCATIVE = re.compile(r"^(?:(?:hi|hello|hey|dear|oh|well)\s+)?[A-Z][\w'-]*[,!]\s*")
_MEMORY_LINE = re.compile(r"^\d+\.\s")
_RULES = RULES.split("{", 1)[0]  # how the system prompt's rules line starts
_SYSTEM_SPLIT = re.compile(r"(?<=[.!?])\s+|\n")

Encode = Callable[[Sequence[str]], np.ndarray]


class WordVectors:
    """Unit vectors of single words from a sentence embedder, each word computed once per
    process (a few milliseconds a word; a person's vocabulary is small and repeats)."""

    def __init__(self, encode: Encode, *, batch: int = 8, limit: int = 50_000) -> None:
        self._encode, self._batch, self._limit = encode, batch, limit
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        new = [w for w in dict.fromkeys(words) if w not in self._cache]
        if len(self._cache) + len(new) > self._limit:
            self._cache.clear()
        for i in range(0, len(new), self._batch):
            chunk = new[i:i + self._batch]
            self._cache.update(zip(chunk, np.asarray(self._encode(chunk), dtype=np.float32),
                                   strict=True))
        return np.stack([self._cache[w] for w in words])


def vocabulary(units: Sequence[str]) -> list[str]:
    """The words of ``units`` a question's word is compared with by vector."""
    return sorted({w.lower() for u in units for w in words(u)
                   if w.isalpha() and len(w) > 2 and norm(w) not in FUNCTION
                   and stem(w) not in RELATIONS})


def given_units(messages: list[dict[str, str]]) -> list[str]:
    """What the model was given about the person, one text per source: each sentence of the
    system prompt (a profile field, today's date), each of the person's turns of the
    conversation, each memory line of the last message. The worked example, the question
    line and the assistant's turns are left out: they are no evidence."""
    units: list[str] = []
    body = [m for m in messages if m not in EXAMPLE]
    for n, m in enumerate(body):
        if m["role"] == "system":  # without the rules: they are about the prompt
            units += [u for line in m["content"].splitlines() if not line.startswith(_RULES)
                      for u in _SYSTEM_SPLIT.split(line) if u.strip()]
        elif m["role"] == "user" and n < len(body) - 1:
            units.append(m["content"])
        elif m["role"] == "user":
            for line in m["content"].splitlines():
                if _MEMORY_LINE.match(line):
                    units.append(line)
    return units


@dataclass
class Focus:
    """A question's focus against the texts the model was given."""

    question: str
    units: list[str]
    vectors: WordVectors | None = None  # word -> vector; None: literal matches only
    person: str = ""  # the person's name: a reply may say it in passing
    phrases: list[Phrase] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.phrases = question_focus(self.question)
        self._stems = [{stem(w) for w in words(u)} for u in self.units]
        self._question_stems = {stem(w) for w in words(self.question)}
        self._sims: dict[str, dict[str, float]] = {}  # stem -> given word's stem -> cosine
        self._near: dict[tuple[str, float], set[str]] = {}
        self._vocab: list[str] | None = None
        self._vocab_matrix: np.ndarray | None = None
        # "Where does my sister live, and what is her job?": the reply's words are held to
        # the focus only when each part of the question has one.
        self._parts = parts_focus(self.question)

    @classmethod
    def of(cls, question: str, messages: list[dict[str, str]],
           vectors: WordVectors | None = None, person: str = "") -> Focus:
        """The focus of ``question`` against the texts of ``messages`` (build_messages')."""
        return cls(question, given_units(messages), vectors, person)

    def _close(self, word: str, threshold: float) -> set[str]:
        """Stems of the given words as close to ``word`` as ``threshold`` (itself included).
        Words for people (RELATIONS) match only their own kind: by vector a mother is close
        to a sister."""
        s = stem(word)
        kin = RELATIONS.get(s)
        if kin is not None:
            return kin
        if (s, threshold) not in self._near:
            if s not in self._sims:
                self._sims[s] = {}
                if self.vectors is not None and self._vocab_vectors() is not None:
                    sims = self._vocab_vectors() @ self.vectors([word.lower()])[0]
                    self._sims[s] = {stem(v): float(x)
                                     for v, x in zip(self._vocab, sims, strict=True)}
            self._near[s, threshold] = {v for v, x in self._sims[s].items()
                                        if x >= threshold} | {s}
        return self._near[s, threshold]

    def _vocab_vectors(self) -> np.ndarray | None:
        """The given words' vectors, computed once per Focus (None: no words)."""
        if self._vocab is None:
            self._vocab = vocabulary(self.units)
            self._vocab_matrix = self.vectors(self._vocab) if self._vocab else None
        return self._vocab_matrix

    def _in(self, word: str, unit: int, threshold: float = SIMILAR) -> bool:
        return bool(self._close(word, threshold) & self._stems[unit])

    def holds(self, word: str, unit: int, threshold: float = SIMILAR) -> bool:
        """Whether given text ``unit`` holds ``word``: itself, its own kind for a word for
        people, or a word as close by vector as ``threshold`` (the claim check asks this)."""
        return self._in(word, unit, threshold)

    def known(self, word: str, threshold: float = SIMILAR) -> bool:
        return any(self._in(word, u, threshold) for u in range(len(self.units)))

    def spoken_of(self, phrase: Phrase) -> bool:
        """Whether a given text speaks of ``phrase``: its head, or for a phrase that must be
        said together ("favourite colour") all its words in one text."""
        if not phrase.together:
            return self.known(phrase.head)
        return any(all(self._in(w, u) for w in phrase.words) for u in range(len(self.units)))

    def missing(self) -> Phrase | None:
        """The first focus whose head word no given text speaks of (then the memories
        cannot answer), else None. Only for a question about the person's own life: "Which
        film should I watch?" asks for advice, "What is the capital of Peru?" for knowledge."""
        toks = [norm(w) for w in words(self.question)]
        # About the person's life: "my", "I", or someone from their memories ("Ingrid").
        named = any(p.head[:1].isupper() and self.known(p.head) for p in self.phrases)
        if not (PERSONAL & set(toks) or named) or ADVICE & set(toks) or toks[:2] in REQUESTS:
            return None
        return next((p for p in self.phrases if not self.spoken_of(p)), None)

    def refusal(self) -> str | None:
        """The honest reply when the question is about something no given text mentions."""
        phrase = self.missing()
        return None if phrase is None else no_memory_line(phrase)

    def off_topic(self, sentence: str) -> bool:
        """True when most words ``sentence`` takes from the memories come from memories
        that are not about the question's focus (see _about); a focus no memory holds even
        loosely says nothing either way."""
        if not self.phrases or says_dont_know(sentence):
            return False
        sentence = _VOCATIVE.sub("", sentence.strip()) if self.person else sentence
        borrowed = {stem(w) for w in words(sentence)
                    if len(w) > 2 and norm(w) not in FUNCTION
                    and stem(w) not in self._question_stems}
        borrowed = {b for b in borrowed if any(b in s for s in self._stems)}
        # The person's name is in every prompt; said as the answer ("Your grandmother's name
        # is Maya") it answers with the wrong person, said in passing it names nothing.
        names = {stem(w) for w in words(self.person)}
        if borrowed and borrowed <= names:
            return bool(re.search(r"\b(?:is|was|are|called|named)\s+(?:" + "|".join(
                re.escape(w) for w in words(self.person)) + r")\b", sentence, re.IGNORECASE))
        borrowed -= names
        if not borrowed:
            return False
        on_topic: set[int] = set()
        for part in self._parts:
            about = [self._about(p) for p in part]
            if not any(u is not None for u in about):
                return False  # a part whose focus no memory holds: nothing to hold words to
            on_topic.update(*(u for u in about if u is not None))
        covered = {b for b in borrowed if any(b in self._stems[u] for u in on_topic)}
        # A name must come from a memory about the focus ("My best friend Tomas is named
        # Miso": Miso is the cat); other words by majority.
        names = {stem(w) for w in words(sentence)[1:] if w[:1].isupper()}
        return bool(names & (borrowed - covered)) or 2 * len(covered) < len(borrowed)

    def quote(self) -> str | None:
        """When a memory holds every word the question asks with (its names, nouns and
        verbs, not its slot words; the best-ranked such memory), or only one memory holds
        all the words of its focus: that memory, quoted with its date and hedged ("I'm not
        sure, but on Sunday, 8 March 2026 you wrote: "…""), for a model that did not find or
        would not say the answer. None otherwise."""
        want = {stem(w) for w in words(self.question)
                if len(w) > 2 and norm(w) not in FUNCTION and norm(w) not in SLOTS}
        focus = {stem(w) for p in self.phrases for w in p.words}
        dated = [(u, _written(unit)) for u, unit in enumerate(self.units)]
        dated = [(u, day) for u, day in dated if day is not None]
        every = [(u, day) for u, day in dated if want and want <= self._stems[u]]
        # Else the one memory that holds the whole focus ("Where did I give my conference
        # talk?": the memory says "talk at the ... conference", not "give").
        only = [(u, day) for u, day in dated if focus and focus <= self._stems[u]]
        best = every[-1] if every else only[0] if len(only) == 1 else None
        if best is None:
            return None
        u, day = best
        text = _MEMORY_HEAD.sub("", self.units[u]).strip()
        return f'I\'m not sure, but on {_spoken_date(day)} you wrote: "{text}"'

    def date_line(self, reply: str) -> str | None:
        """For a question about when, answered without a date: when the memory the reply's
        words come from was written ("You wrote that on Sunday, 11 January 2026."), a fact
        the model was given and a small model seldom reads off the memory's date."""
        if not _WHEN.search(self.question) or says_dont_know(reply) or _HAS_DATE.search(reply):
            return None
        said = {stem(w) for w in words(reply) if len(w) > 2 and norm(w) not in FUNCTION}
        best, score = None, 0
        for unit in self.units:
            day = _written(unit)
            overlap = len(said & {stem(w) for w in words(unit)}) if day else 0
            if overlap > score:
                best, score = day, overlap
        if best is None or score < 2:
            return None
        return f"You wrote that on {_spoken_date(best)}."

    def _about(self, phrase: Phrase) -> set[int] | None:
        """The given texts about ``phrase``: those holding each of its words that some text
        holds as SAME (failing that, as SIMILAR); when none holds them all and the head is
        there as itself ("research project": the grant's memory says "project"), those
        holding the head. None when no text holds any of its words even as SIMILAR."""
        near = SAME
        found = [w for w in phrase.words if self.known(w, near)]
        if not found:  # only a looser match ("car" ~ "Volvo" 0.59): the memories it finds
            near = SIMILAR
            found = [w for w in phrase.words if self.known(w, near)]
        if not found:
            return None
        units = range(len(self.units))
        every = {u for u in units if all(self._in(w, u, near) for w in found)}
        if every or phrase.head not in found:
            return every
        return {u for u in units if stem(phrase.head) in self._stems[u]}


def _spoken_date(day: date) -> str:
    return f"{day.strftime('%A')}, {day.day} {day.strftime('%B %Y')}"


def _written(unit: str) -> date | None:
    m = _UNIT_DATE.match(unit)
    try:
        return date.fromisoformat(m.group(1)) if m else None
    except ValueError:
        return None


def no_memory_line(phrase: Phrase) -> str:
    """The reply when the memories do not speak of ``phrase`` at all."""
    return f"I don't know: I have no memory that mentions {phrase.spoken()}."
