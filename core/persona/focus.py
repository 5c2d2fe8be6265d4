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
- **While the reply streams** (:meth:`Focus.off_topic`): the words a sentence takes from the
  memories must mostly come from a memory that speaks of the focus; "Miso" from the cat's
  memory does not answer a question about the neighbour's dog.

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

from persona.core.persona.grounding import MONTHS, fold, norm, says_dont_know
from persona.core.persona.prompt import EXAMPLE, RULES

# Words that open a noun phrase naming what the question is about.
OPENERS = frozenset({"my", "your", "our", "the", "which", "what", "whose", "his", "her",
                     "their", "much", "many"})
# Words that end a noun phrase (verbs, prepositions, pronouns, question words).
ENDERS = frozenset({
    "is", "am", "are", "was", "were", "be", "been", "do", "does", "did", "have", "has", "had",
    "will", "would", "can", "could", "should", "shall", "may", "might", "must", "get", "got",
    "of", "from", "at", "in", "on", "to", "for", "with", "by", "about", "along", "near", "into",
    "and", "or", "but", "than", "i", "you", "we", "he", "she", "they", "me", "it", "that",
    "this", "who", "whom", "where", "when", "why", "how", "what", "which", "there", "not",
    "called", "named", "live", "lives", "living", "go", "going", "like", "love", "want",
    "again", "ago", "together", "worth", "these", "those", "every", "each", "more", "most"})
# After these, the first noun phrase is the subject and a verb follows it unmarked ("did my
# grandmother turn ninety"): only its first word is kept.
AUXILIARIES = frozenset({"do", "does", "did", "will", "would", "can", "could", "should",
                         "shall", "may", "might"})
# Attribute words: they ask for a value of the thing, the person need not have used them.
SLOTS = frozenset({
    "name", "names", "job", "work", "living", "colour", "color", "make", "model", "kind",
    "type", "sort", "brand", "breed", "title", "part", "role", "day", "days", "date", "time",
    "times", "week", "month", "year", "years", "season", "city", "town", "country", "place",
    "street", "address", "age", "number", "amount", "size", "price", "cost", "way", "reason",
    "thing", "things", "one", "ones", "anything", "something", "everything", "nothing", "lot",
    "first", "last", "next", "favourite", "favorite", "best", "new", "old", "usual", "own",
    "other", "main", "little", "big", "long", "far", "often", "much", "many", "few"})
# Words that carry no content of their own in a reply.
FUNCTION = ENDERS | OPENERS | frozenset({
    "a", "an", "as", "so", "if", "then", "also", "just", "very", "really", "too", "its",
    "yours", "mine", "them", "him", "us", "all", "any", "some", "no", "yes", "not", "here",
    "now", "today", "tonight", "yesterday", "tomorrow", "still", "again", "ever", "never",
    "always", "only", "every", "each", "more", "most", "up", "out", "over", "after", "before",
    "until", "while", "because", "since", "said", "say", "says", "told", "tell", "mentioned",
    "memory", "memories", "remember", "know", "think", "sounds", "great", "sure"})

# A question is about the person's life when it says my, me or I, and not when it asks for
# advice or a favour.
PERSONAL = frozenset({"my", "me", "i", "mine", "i'm", "i've", "i'd", "myself"})
ADVICE = frozenset({"should", "recommend", "suggest", "advise", "idea", "ideas", "tips"})
REQUESTS = (["can", "you"], ["could", "you"], ["would", "you"], ["will", "you"],
            ["please"], ["tell", "me"], ["help", "me"])

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

# Words for people: a closed class where vectors mislead (sister~mother 0.63). Each matches
# only the words of its own kind (stems, see stem()).
_KINDS = (("mother", "mum", "mom", "mama", "mummy", "mommy"), ("father", "dad", "papa", "daddy"),
          ("grandmother", "grandma", "granny", "nan", "nana", "gran"),
          ("grandfather", "grandpa", "granddad", "grandad"), ("brother",), ("sister",),
          ("uncle",), ("aunt", "auntie"), ("cousin",), ("son",), ("daughter",), ("niece",),
          ("nephew",), ("wife",), ("husband",), ("boyfriend",), ("girlfriend",),
          ("partner",), ("fiance", "fiancee"), ("friend",), ("neighbour", "neighbor"),
          ("boss", "manager"), ("colleague", "coworker"), ("teacher", "tutor"),
          ("doctor", "gp"), ("grandson",), ("granddaughter",), ("stepmother",),
          ("stepfather",), ("baby",), ("child", "kid"))
RELATIONS: dict[str, set[str]] = {}

_WORD = re.compile(r"[\w'\u2019]+")
_BACK = re.compile(r"\b(?:her|his|their|its|she|he|they|it|them|him|there|that|this)\b",
                   re.IGNORECASE)
_WHEN = re.compile(r"^\s*when\b|\b(?:what|which)\s+(?:date|day)\b", re.IGNORECASE)
_HAS_DATE = re.compile(r"\d|\b(?:" + "|".join(MONTHS) + r")\b", re.IGNORECASE)  # a weekday is none
_UNIT_DATE = re.compile(r"^\d+\.\s\[(\d{4}-\d{2}-\d{2})")
_MEMORY_HEAD = re.compile(r"^\d+\.\s\[[^\]]*\]")
_AND = (r",?\s+and\s+(?=(?:what|which|who|whom|whose|where|when|how|why|do|does|did|is|are|"
        r"was)\b)|;")
_SPLIT = re.compile(_AND, re.IGNORECASE)  # one utterance, two questions
_PARTS = re.compile(_AND + r"|\?\s+", re.IGNORECASE)
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


def stem(word: str) -> str:
    """A crude English stem, the same on both sides of a comparison: 'lessons' -> 'lesson',
    'sailing' -> 'sail', "Ingrid's" -> 'ingrid', 'married' -> 'marri'."""
    w = fold(norm(word)).strip("'")
    w = w.removesuffix("'s").removesuffix("'")
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w


for _kind in _KINDS:
    for _word in _kind:
        RELATIONS[stem(_word)] = {stem(w) for w in _kind}


def words(text: str) -> list[str]:
    return _WORD.findall(text)


@dataclass
class Phrase:
    """One thing the question is about: its words, the last being the head."""

    words: tuple[str, ...]
    said: str = ""  # as asked, for the reply: "favourite film"
    mine: bool = False  # opened by "my": the reply says "your ..."


    @property
    def head(self) -> str:
        return self.words[-1]

    def spoken(self) -> str:
        """'your favourite film' (asked with "my"), 'a hotel', 'Kiel'."""
        w = self.said or self.head
        if self.mine:
            return "your " + w
        if w[:1].isupper() or w.endswith("s"):
            return w
        vowel = w[0] in "aeiou" and not w.startswith(("uni", "use", "usu", "eu", "one"))
        return ("an " if vowel else "a ") + w


def question_focus(question: str) -> list[Phrase]:
    """The noun phrases and names ``question`` asks about, slot words left out."""
    toks = words(question)
    phrases: list[Phrase] = []
    i, subject = 0, False  # subject: the next phrase follows an auxiliary
    while i < len(toks):
        tok = toks[i]
        low = norm(tok)
        if low in AUXILIARIES:
            subject = True  # for the phrase right after it only ("did I present at the...")
        elif low not in OPENERS and i and norm(toks[i - 1]) in AUXILIARIES:
            subject = False
        if i > 0 and tok[:1].isupper() and low not in OPENERS | ENDERS | FUNCTION:
            phrases.append(Phrase((tok,), tok))  # a name: Lea, Iceland, Kiel
            i += 1
            continue
        if low not in OPENERS:
            i += 1
            continue
        mine, got, i = low == "my", [], i + 1
        while i < len(toks) and len(got) < 4:
            w = norm(toks[i])
            if w in ENDERS or w in OPENERS or toks[i][:1].isupper():
                break
            if w.endswith(("'s", "'")) and w.strip("'") not in SLOTS:  # a possessor
                owner = w.removesuffix("'s").rstrip("'")
                phrases.append(Phrase((owner,), owner, mine))
                got, mine, i = [], False, i + 1  # "my neighbour's dog": not your dog
                continue
            got.append(w)
            i += 1
        if subject and got:
            got, subject = got[:1], False
        if len(got) > 1 and got[-1].endswith("ed"):
            got = got[:-1]  # "the boat failed"
        content = tuple(w for w in got if w not in SLOTS and w not in FUNCTION and len(w) > 1)
        if content:
            phrases.append(Phrase(content, " ".join(got), mine))
    return phrases


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
        self._sims: dict[str, dict[str, float]] = {}
        # "Where does my sister live, and what is her job?": the reply's words are held to
        # the focus only when each part of the question has one.
        self._parts = [question_focus(part) for part in _PARTS.split(self.question)
                       if part.strip()]

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
        if s not in self._sims:
            vocab = vocabulary(self.units)
            self._sims[s] = {}
            if self.vectors is not None and vocab:
                sims = self.vectors(vocab) @ self.vectors([word.lower()])[0]
                self._sims[s] = {stem(v): float(x) for v, x in zip(vocab, sims, strict=True)}
        return {v for v, x in self._sims[s].items() if x >= threshold} | {s}

    def _in(self, word: str, unit: int, threshold: float = SIMILAR) -> bool:
        return bool(self._close(word, threshold) & self._stems[unit])

    def known(self, word: str, threshold: float = SIMILAR) -> bool:
        return any(self._in(word, u, threshold) for u in range(len(self.units)))

    def missing(self) -> Phrase | None:
        """The first focus whose head word no given text speaks of (then the memories
        cannot answer), else None. Only for a question about the person's own life: "Which
        film should I watch?" asks for advice, "What is the capital of Peru?" for knowledge."""
        toks = [norm(w) for w in words(self.question)]
        # About the person's life: "my", "I", or someone from their memories ("Ingrid").
        named = any(p.head[:1].isupper() and self.known(p.head) for p in self.phrases)
        if not (PERSONAL & set(toks) or named) or ADVICE & set(toks) or toks[:2] in REQUESTS:
            return None
        return next((p for p in self.phrases if not self.known(p.head)), None)

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


def split_question(question: str) -> list[str]:
    """"What is my cat's name, and what am I allergic to?" -> its two questions; a question
    whose later part points back ("..., and what is her job?") stays whole."""
    parts = [p.strip(" ,;?") for p in _SPLIT.split(question) if p.strip(" ,;?")]
    if len(parts) < 2 or any(_BACK.search(p) for p in parts[1:]):
        return [question]
    return [p[0].upper() + p[1:] + "?" for p in parts]


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
