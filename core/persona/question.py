"""What a question asks about: its noun phrases and names, and its parts.

"What is my neighbour's dog called?" is about the neighbour and the dog; "called" asks for a
value and names nothing (SLOTS). Read from the words alone, with small word lists instead of a
parser (a tagger would be one more model to ship): the words after "my", "the", "which",
"what", "whose", "how much", … up to a verb, preposition or pronoun, and the capitalised names.
focus.py holds these against the memories the model is given; the pipeline answers a
two-part question ("…, and what am I allergic to?") part by part (split_question).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from persona.core.persona.grounding import fold, norm

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
# "my favourite colour": both words are slot words, yet together they name something the
# person would have said in those words; the phrase counts as spoken of only where one text
# holds both ("my favourite food" says nothing of a favourite colour). Not for the generic
# words ("my favourite thing"), which the person may have said any way at all.
PREFERRED = frozenset({"favourite", "favorite"})
GENERIC = frozenset({"thing", "things", "one", "ones", "anything", "something", "everything",
                     "nothing", "lot", "way"})
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
_AND = (r",?\s+and\s+(?=(?:what|which|who|whom|whose|where|when|how|why|do|does|did|is|are|"
        r"was)\b)|;")
_SPLIT = re.compile(_AND, re.IGNORECASE)  # one utterance, two questions
_PARTS = re.compile(_AND + r"|\?\s+", re.IGNORECASE)


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
    together: bool = False  # spoken of only where one text holds all its words (PREFERRED)


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
        elif len(got) > 1 and got[0] in PREFERRED and got[-1] not in GENERIC | PREFERRED:
            phrases.append(Phrase((got[0], got[-1]), " ".join(got), mine, together=True))
    return phrases


_OWN = re.compile(r"\b(?:my|mine|i|me)\b", re.IGNORECASE)
_THE_SLOT = re.compile(r"\bthe\s+([\w']+)", re.IGNORECASE)


def refers_back(part: str) -> bool:
    """A later part of a question that asks about the part before it: "what is her job?",
    or "what is the job?" (an attribute of nothing named: how Whisper heard "her job")."""
    if _BACK.search(part):
        return True
    m = _THE_SLOT.search(part)
    return (m is not None and m.group(1).lower() in SLOTS and not _OWN.search(part)
            and not question_focus(part))


def split_question(question: str) -> list[str]:
    """"What is my cat's name, and what am I allergic to?" -> its two questions; a question
    whose later part points back ("..., and what is her job?") stays whole."""
    parts = [p.strip(" ,;?") for p in _SPLIT.split(question) if p.strip(" ,;?")]
    if len(parts) < 2 or any(refers_back(p) for p in parts[1:]):
        return [question]
    return [p[0].upper() + p[1:] + "?" for p in parts]


def parts_focus(question: str) -> list[list[Phrase]]:
    """The focus of each part of ``question`` (parts end at "?", ";" or ", and what …"). A
    later part with no focus of its own that points back ("…, and what is her job?") asks
    about the part before it: it is no part of its own."""
    out: list[list[Phrase]] = []
    for part in (p for p in _PARTS.split(question) if p.strip()):
        focus = question_focus(part)
        if out and not focus and refers_back(part):
            continue
        out.append(focus)
    return out
