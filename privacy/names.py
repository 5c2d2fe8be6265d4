"""Names Persona suggests for redaction, found in the person's own memories.

Redaction replaces only the names the person confirms (setting ``redact_names``): a name
finder that redacted on its own would also eat "Rose" the flower and "May" the month. This
finder only proposes. A candidate is a word that

- starts with a capital and is otherwise letters (an apostrophe-s is dropped: "Anna's"),
- is not at the start of a sentence or line (where every word is capitalised),
- is not in ``COMMON_CAPITALISED`` (days, months, "I", titles, holidays, languages...),
- is written lower case less often than capitalised in the same texts ("rose" vs "Rose"),
- is seen at least ``min_count`` times (default 2), and is not already listed.

Candidates come back most frequent first. The person ticks the real ones
(``persona names confirm`` or the app's Settings); place and brand names are proposed too,
and it is for the person to keep them or not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

COMMON_CAPITALISED = frozenset(re.split(r"\s+", """
    i i'm i've i'll i'd ok okay mr mrs ms miss dr prof sir madam mum mom dad mummy daddy
    grandma grandpa granny nan god jesus christ lord monday tuesday wednesday thursday friday
    saturday sunday january february march april may june july august september october
    november december christmas easter xmas halloween ramadan diwali hanukkah thanksgiving
    english french german spanish italian dutch chinese japanese european american british
    internet tv wifi covid uk us usa eu nhs bbc app iphone android google amazon
    the a an and or but if then so yes no not this that it he she we they you my our your
    his her their what when where why how who which there here today tomorrow yesterday
    persona assistant person
    """.strip()))
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’-]*")
_SENTENCE_END = re.compile(r"(?:^|[.!?:\"“”«»(\[\n]|[-–—]\s)\s*$")


@dataclass(frozen=True)
class NameCandidate:
    name: str
    count: int  # times seen capitalised, not at a sentence start


def _clean(word: str) -> str:
    word = re.sub(r"['’]s$", "", word)
    return word.strip("'’-")


def suggest_names(texts: Iterable[str], *, known: Iterable[str] = (),
                  min_count: int = 2, limit: int = 50) -> list[NameCandidate]:
    """Name candidates in ``texts`` (see the module's docstring), most frequent first."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, not {min_count}")
    known_folded = {n.casefold() for raw in known for n in raw.split()}
    capital: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    spelling: dict[str, Counter[str]] = {}
    for text in texts:
        for m in _WORD.finditer(text):
            word = _clean(m.group())
            if len(word) < 2 or not word.replace("-", "").isalpha():
                continue
            key = word.casefold()
            if word[0].islower():
                lower[key] += 1
                continue
            if _SENTENCE_END.search(text[max(0, m.start() - 3):m.start()]):
                continue  # sentence-initial: capitalised whatever it is
            if word.isupper() and len(word) > 1:
                continue  # an acronym or shouting, not a name
            capital[key] += 1
            spelling.setdefault(key, Counter())[word] += 1
    out = [NameCandidate(spelling[key].most_common(1)[0][0], n)
           for key, n in capital.items()
           if n >= min_count and key not in COMMON_CAPITALISED and key not in known_folded
           and lower[key] < n]
    out.sort(key=lambda c: (-c.count, c.name))
    return out[:limit]
