"""Emotion cues from the words: valence from VADER, arousal and category from small word lists.

VADER (Hutto & Gilbert 2014, shipped with its lexicon inside ``vaderSentiment``) scores how
positive or negative the words are, handling negation, intensifiers, capitals and "!".
It cannot tell anger from anxiety from sadness, or excitement from contentment, so the
hand-written lists in ``cues.yaml`` add per-category evidence and arousal. All of it is
plain string work: well under a millisecond per sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from persona.core.errors import TextError

CUES_FILE = Path(__file__).with_name("cues.yaml")
CATEGORIES = ("angry", "anxious", "sad", "happy", "excited", "calm")

NEUTRAL_AROUSAL = 0.4  # arousal of words that carry no arousal cue at all
# How much one cue of each category moves the text arousal (category words imply energy).
CATEGORY_AROUSAL = {"angry": 0.15, "anxious": 0.12, "excited": 0.18, "happy": 0.04,
                    "sad": -0.12, "calm": -0.15}
# The usual valence of each category: it fills in when VADER finds no sentiment words.
CATEGORY_VALENCE = {"angry": -0.6, "anxious": -0.45, "sad": -0.55, "happy": 0.55,
                    "excited": 0.6, "calm": 0.3}
CUE_VALENCE_SHARE = 0.6  # how far the category cues may move a sentiment-free valence
EXCLAMATION, CAPS, INTENSIFIER, AROUSAL_WORD = 0.10, 0.08, 0.04, 0.12
NEGATION_WINDOW = 3  # words before a cue that a negator may sit in
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class TextCues:
    """What the words say about the speaker's feeling."""

    valence: float  # VADER compound, -1 .. 1
    arousal: float  # 0 .. 1, NEUTRAL_AROUSAL without cues
    categories: dict[str, float] = field(default_factory=dict)  # category -> cue weight
    evidence: float = 0.0  # 0 (no emotional content) .. 1 (strong, unambiguous cues)
    hits: tuple[str, ...] = ()  # "category:matched words", for explanations and debugging


def _pattern(entries: list[str]) -> re.Pattern:
    """One regex for a word list; '*' is any word ending; longest phrases tried first."""
    parts = []
    for e in sorted(entries, key=len, reverse=True):
        e = e.strip().lower()
        parts.append(re.escape(e[:-1]) + r"[a-z']*" if e.endswith("*") else re.escape(e))
    return re.compile(r"(?<![a-z0-9'])(?:" + "|".join(parts) + r")(?![a-z0-9'])")


@dataclass(frozen=True)
class _Lexicon:
    categories: dict[str, re.Pattern]
    high: re.Pattern
    low: re.Pattern
    intensifiers: frozenset[str]
    negators: frozenset[str]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    try:
        data = yaml.safe_load(CUES_FILE.read_text(encoding="utf-8"))
        return _Lexicon(
            categories={c: _pattern(data["categories"][c]) for c in CATEGORIES},
            high=_pattern(data["arousal_high"]),
            low=_pattern(data["arousal_low"]),
            intensifiers=frozenset(data["intensifiers"]),
            negators=frozenset(data["negators"]),
        )
    except (OSError, KeyError, TypeError, yaml.YAMLError) as e:
        raise TextError(f"the emotion word list {CUES_FILE} is missing or malformed ({e!r}); "
                        "reinstall Persona to restore it.") from e


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _negated(lower: str, start: int, negators: frozenset[str]) -> bool:
    before = _WORD.findall(lower[max(0, start - 40):start])[-NEGATION_WINDOW:]
    return any(w in negators or w.endswith("n't") for w in before)


def _matches(pattern: re.Pattern, lower: str, negators: frozenset[str]) -> list[str]:
    return [m.group(0) for m in pattern.finditer(lower)
            if not _negated(lower, m.start(), negators)]


def text_cues(text: str) -> TextCues:
    """Valence, arousal and category evidence of ``text`` (any length, any case)."""
    if not isinstance(text, str):
        raise TextError(f"emotion tagging needs a str, got {type(text).__name__}: {text!r:.60}")
    lex = _lexicon()
    clean = text.replace("\u2019", "'").replace("\u2018", "'")
    lower = clean.lower()
    if not _WORD.search(lower):
        return TextCues(valence=0.0, arousal=NEUTRAL_AROUSAL)

    valence = float(_vader().polarity_scores(clean)["compound"])
    categories: dict[str, float] = {}
    hits: list[str] = []
    words = _WORD.findall(lower)
    for cat, pat in lex.categories.items():
        found = _matches(pat, lower, lex.negators)
        if found:
            categories[cat] = float(len(found))
            hits += [f"{cat}:{w}" for w in found]

    vader = valence
    if categories:
        # "I waited two hours on hold" has no sentiment word for VADER but an anger cue.
        cue = sum(CATEGORY_VALENCE[c] * n for c, n in categories.items()) / sum(categories.values())
        valence = vader + (1.0 - abs(vader)) * CUE_VALENCE_SHARE * cue

    # Arousal: typography and arousal words push it up or down from a neutral middle.
    shout = min(clean.count("!"), 3) * EXCLAMATION
    caps = min(sum(1 for w in re.findall(r"\b[A-Z]{2,}\b", clean) if w != "OK"), 3) * CAPS
    boost = min(sum(1 for w in words if w in lex.intensifiers), 3) * INTENSIFIER
    high = len(_matches(lex.high, lower, lex.negators))
    low = len(_matches(lex.low, lower, lex.negators))
    hits += [f"arousal+:{w}" for w in _matches(lex.high, lower, lex.negators)]
    hits += [f"arousal-:{w}" for w in _matches(lex.low, lower, lex.negators)]
    by_category = sum(CATEGORY_AROUSAL[c] * min(n, 2.0) for c, n in categories.items())
    trailing = -0.05 if "..." in clean or "\u2026" in clean else 0.0
    arousal = (NEUTRAL_AROUSAL + shout + caps + boost + AROUSAL_WORD * (high - low)
               + max(-0.35, min(0.4, by_category)) + 0.1 * abs(vader) + trailing)

    # Evidence: strong VADER valence or several category cues; each alone is partial.
    n_cues = sum(categories.values()) + 0.5 * (high + low) + (1.0 if shout or caps else 0.0)
    evidence = 1.0 - (1.0 - min(1.0, abs(vader) * 1.2)) * (0.55 ** n_cues)
    return TextCues(valence=valence, arousal=min(1.0, max(0.0, arousal)),
                    categories=categories, evidence=min(1.0, max(0.0, evidence)),
                    hits=tuple(hits))
