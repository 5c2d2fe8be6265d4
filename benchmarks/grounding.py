"""Scoring the grounded benchmark: is a reply right, and is a "don't know" honest?

The questions (benchmarks/data/grounded_questions.json) have five kinds. An answerable reply
is right when it contains an accepted answer (``a``: any one; ``all``: one of every group;
``date``: the day in ISO form or in words). An unanswerable one is right when the reply says
it does not know AND names nothing it was not told: a capitalised word or a number that is in
neither the question nor what the model could have read (the diary, the profile) counts as
an invented answer ("I'm not sure, maybe Anna?" is not honest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ANSWERABLE = ("fact", "paraphrase", "two", "date")
KINDS = (*ANSWERABLE, "unanswerable")

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Ways a reply says it does not know (lower case; apostrophes are normalised to ').
DONT_KNOW = (
    r"\bi (?:do not|don't|really don't|honestly don't) (?:know|remember|recall)\b",
    r"^you (?:do not|don't) know\b",  # small models echo the rule's words: still a refusal
    r"\bi'?m not sure\b", r"\bi am not sure\b",
    r"\bi (?:do not|don't) (?:have|hold|see|find|seem to have)\b",
    r"\bi have no (?:memory|memories|record|records|information|info|details|idea|note|notes)\b",
    r"\bi (?:can't|cannot|could not|couldn't|can not) (?:find|see|tell|say|recall|remember)\b",
    r"\b(?:you|i) (?:haven't|have not|never|didn't|did not) (?:told|tell|mentioned|mention|"
    r"said|say|shared|share|written|write|noted|note)\b",
    r"\bnot (?:in|among) (?:my|your|the) (?:memories|notes|diary|records)\b",
    r"\b(?:no|nothing) (?:in|among) (?:my|your|the) (?:memories|notes|diary|records)\b",
    r"\bthere(?:'s| is) no (?:mention|record|memory|information|note)\b",
    r"\b(?:isn't|is not|wasn't|was not|aren't|are not|not) (?:mentioned|recorded|noted|"
    r"stated|specified|known|given)\b",
    r"\bno (?:information|memory|record|details) (?:about|on|of|regarding)\b",
    r"\bunknown\b", r"\bno idea\b",
)
_DONT_KNOW = re.compile("|".join(DONT_KNOW))

# Words that may start a capitalised token without being a name the model made up.
_COMMON = {"i", "i'm", "i've", "i'd", "i'll", "you", "your", "it", "the", "a", "an", "but",
           "sorry", "unfortunately", "however", "maybe", "perhaps", "if", "as", "no", "yes",
           "there", "that", "this", "based", "according", "from", "in", "on", "we", "my",
           "ok", "okay", "hi", "hello", "let", "would", "could", "do", "did", "is", "what",
           "which", "who", "when", "where", "how", "mr", "mrs", "ms", "dr", *MONTHS, *DAYS}


def norm(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").casefold()


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


def says_dont_know(reply: str) -> bool:
    return bool(_DONT_KNOW.search(norm(reply)))


def invented_names(reply: str, known: str) -> tuple[str, ...]:
    """Capitalised words (not starting a sentence) and numbers in ``reply`` that ``known``
    (the question, the diary, the profile, today's date) does not contain."""
    vocab = set(re.findall(r"[\w']+", norm(known)))
    out = []
    for sentence in re.split(r"(?<=[.!?:;\n])\s+", reply.strip()):
        tokens = re.findall(r"[\w'\u2019]+", sentence)
        for i, tok in enumerate(tokens):
            word = norm(tok)
            named = tok[0].isupper() and i > 0 or tok[0].isdigit()
            if named and word not in _COMMON and word not in vocab and \
                    word.removesuffix("'s") not in vocab:
                out.append(tok)
    return tuple(out)


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
