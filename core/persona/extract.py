"""First-person facts in the person's own sentences: name, age, place, work, likes, key facts.

Deterministic regular expressions over English; a miss leaves a field empty for the person
to fill, and a wrong guess is one hand edit away (and then never overwritten).
"""

from __future__ import annotations

import re
from collections import Counter

from persona.core.persona.textstats import FUNCTION_WORDS, words

_NAME = r"([A-Z][\w'-]+(?: [A-Z][\w'-]+)?)"
NAME = [re.compile(r"\b(?i:my name is) " + _NAME),
        re.compile(r"\b(?:call me|I'm called) " + _NAME)]
LOCATION = [re.compile(r"\bI (?:live|moved|relocated) (?:in|to) "
                       r"([A-Z][\w'-]+(?:,? [A-Z][\w'-]+)*)")]
OCCUPATION = [re.compile(r"\bI work as (?:a|an) ([a-z][a-z -]*?)(?= at | in | for |[.,;!?]|$)"),
              re.compile(r"\bI(?: am|'m) (?:a|an) ([a-z][a-z -]*?) by (?:profession|trade)")]
LANGUAGES = re.compile(r"\bI speak ([A-Z][a-z]+(?:(?:, | and |, and )[A-Z][a-z]+)*)")
AGE = re.compile(r"\bI(?: am|'m| turned) ([a-z]+(?:-[a-z]+)?|\d{1,3})(?: years old)?"
                 r"(?=[.,;!]|$| and )", re.IGNORECASE)
LIKES = re.compile(r"\bI (?:really |absolutely |just )?(?:love|like|enjoy|adore) ([^.,;!?]+)")
FAVOURITE = re.compile(r"\bmy favou?rite \w+ (?:is|are) ([^.,;!?]+)", re.IGNORECASE)
DISLIKES = re.compile(r"\bI (?:really )?(?:hate|dislike|can't stand|cannot stand|don't like|"
                      r"do not like|am allergic to|'m allergic to) ([^.,;!?]+)")
FACT = re.compile(
    r"\b(?:my name is|I(?: am|'m) (?:\d|a |an |allergic|from|married|single)|I work|I live|"
    r"I was born|I grew up|I stud(?:y|ied)|I moved|I(?: have|'ve got) (?:a|an|\d+|two|three)\b|"
    r"I adopted|I speak|my (?:\w+ ){0,2}(?:is|are|was|lives|works) )", re.IGNORECASE)
_NOT_FACT = re.compile(r"\b(?:a bit|a little|a lot|a mess|a good day|a bad day)\b", re.IGNORECASE)
_CUT = frozenset({"because", "when", "but", "so", "and", "with", "since", "if", "that",
                  "while", "though", "although", "than", "at", "in", "on"})

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number(text: str) -> int | None:
    """"34", "thirty-four", "thirty four" -> 34; None if it is not a number up to 99."""
    t = text.lower().replace("-", " ").split()
    if len(t) == 1 and t[0].isdigit():
        return int(t[0])
    if len(t) == 1 and t[0] in _UNITS:
        return _UNITS.index(t[0])
    if t and t[0] in _TENS and (len(t) == 1 or (len(t) == 2 and t[1] in _UNITS[1:10])):
        return 20 + 10 * _TENS.index(t[0]) + (_UNITS.index(t[1]) if len(t) == 2 else 0)
    return None


def last_match(patterns: list[re.Pattern], sentences: list[str]) -> str:
    """The last (most recent) capture of any pattern; sentences are oldest first."""
    found = ""
    for s in sentences:
        for p in patterns:
            m = p.search(s)
            if m:
                found = m.group(1).strip()
    return found


def age(sentences: list[str]) -> int | None:
    value = None
    for s in sentences:
        for m in AGE.finditer(s):
            n = number(m.group(1))
            if n is not None and 1 <= n <= 120:
                value = n
    return value


def languages(sentences: list[str]) -> list[str]:
    langs: list[str] = []
    for s in sentences:
        for m in LANGUAGES.finditer(s):
            for lang in re.split(r", and |, | and ", m.group(1)):
                if lang not in langs:
                    langs.append(lang)
    return langs


def _object(phrase: str, max_words: int = 4) -> str:
    """The noun-ish object of "I love <phrase>": cut at a conjunction, trim function words."""
    toks = phrase.strip().split()
    if toks and toks[0].lower() == "to":  # "I like to swim" -> "swim"
        toks = toks[1:]
    out: list[str] = []
    for tok in toks:
        if out and tok.lower() in _CUT:
            break
        out.append(tok)
    while out and out[0].lower() in FUNCTION_WORDS:
        out.pop(0)
    out = out[:max_words]
    while out and out[-1].lower() in FUNCTION_WORDS:
        out.pop()
    return " ".join(out).lower()


def ranked_objects(patterns: list[re.Pattern], sentences: list[str], limit: int) -> list[str]:
    """Objects of the patterns, most often said first (ties: first said first)."""
    counts: Counter = Counter()
    first: dict[str, int] = {}
    for i, s in enumerate(sentences):
        for p in patterns:
            for m in p.finditer(s):
                obj = _object(m.group(1))
                if obj and any(w not in FUNCTION_WORDS for w in words(obj)):
                    counts[obj] += 1
                    first.setdefault(obj, i)
    return sorted(counts, key=lambda o: (-counts[o], first[o]))[:limit]


def is_key_fact(sentence: str) -> bool:
    n = len(words(sentence))
    return (3 <= n <= 30 and not sentence.rstrip().endswith("?")
            and FACT.search(sentence) is not None and _NOT_FACT.search(sentence) is None)
