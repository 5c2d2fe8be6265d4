"""Scoring the grounded benchmark: is a reply right, and is a "don't know" honest?

The questions (benchmarks/data/grounded_questions.json) have five kinds. An answerable reply
is right when it contains an accepted answer (``a``: any one; ``all``: one of every group;
``date``: the day in ISO form or in words). An unanswerable one is right when the reply says
it does not know AND names nothing it was not told: a capitalised word or a number that is in
neither the question nor what the model could have read (the diary, the profile) counts as
an invented answer ("I'm not sure, maybe Anna?" is not honest). Those two checks live in
persona.core.persona.grounding, where the product's grounding gate uses them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# The product's grounding gate decides what a "don't know" and an invented name are; the
# benchmark scores with the same rules (no second copy to drift apart).
from persona.core.persona.grounding import MONTHS, invented_names, norm, says_dont_know

__all__ = ["ANSWERABLE", "KINDS", "Verdict", "contains_any", "evidence", "invented_names",
           "judge", "mentions_date", "norm", "retrieved", "says_dont_know"]

ANSWERABLE = ("fact", "paraphrase", "two", "date")
KINDS = (*ANSWERABLE, "unanswerable")


def contains_any(text: str, answers: list[str]) -> bool:
    t = norm(text)
    return any(norm(a) in t for a in answers)


def _ordinal(day: int) -> str:
    words = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
             "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"]
    if day <= 20:
        return words[day - 1]
    return {30: "thirtieth", 31: "thirty-first"}.get(
        day, "twenty-" + words[day - 21] if day < 30 else "")


def mentions_date(text: str, iso: str) -> bool:
    """True when ``text`` names the day ``iso``: 2026-01-11, '11 January', 'Jan 11th',
    'the 11th of January', 'January eleventh' (the year may be left out; a month alone is
    not enough)."""
    d = date.fromisoformat(iso)
    t = norm(text)
    if iso in t or f"{d.day:02d}.{d.month:02d}." in t:
        return True
    month = MONTHS[d.month - 1]
    mon = rf"{month[:3]}(?:{month[3:]}|\.)?"
    day = rf"(?:0?{d.day}(?:st|nd|rd|th)?|{_ordinal(d.day)})"
    return bool(re.search(rf"\b{day}(?: of)? {mon}\b|\b{mon},? (?:the )?{day}\b", t))


@dataclass
class Verdict:
    correct: bool
    says_dont_know: bool = False
    invented: tuple[str, ...] = ()


def judge(item: dict, reply: str, known: str = "") -> Verdict:
    """Score one reply to one benchmark item (see the module docstring)."""
    idk = says_dont_know(reply)
    if item["kind"] == "unanswerable":
        invented = invented_names(reply, known + " " + item["q"])
        return Verdict(idk and not invented, idk, invented)
    if "all" in item:
        ok = all(contains_any(reply, group) for group in item["all"])
    else:
        ok = contains_any(reply, item.get("a", []))
        if "date" in item:
            ok = ok or mentions_date(reply, item["date"])
    return Verdict(ok, idk)


def evidence(item: dict) -> list[list[str]]:
    """Strings marking the answer-bearing memories, one group per memory needed."""
    if "evidence" in item:
        return [[e] for e in item["evidence"]]
    if "all" in item:
        return item["all"]
    return [item["a"]] if item.get("a") else []


def retrieved(item: dict, hit_texts: list[str], hit_days: list[str]) -> bool:
    """Every answer-bearing memory is among the hits (for a date item: a hit of that day)."""
    if item["kind"] == "unanswerable":
        return True
    if "date" in item and item["date"] not in hit_days:
        return False
    return all(any(contains_any(t, group) for t in hit_texts) for group in evidence(item))
