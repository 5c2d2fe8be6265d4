"""A stylometric profile of a text, and how alike two profiles are.

The profile measures how someone writes, not what about: word and sentence length, vocabulary
richness, the rates of common function words and of punctuation, and favourite phrases.
``similarity`` compares two profiles by cosine, group by group: each feature is centred on
a rough everyday-English value (so a text is described by how it differs from the usual) and
scaled, each group (shape, function words, punctuation) is one unit vector, and the result is
the mean of the groups' cosines: 1.0 for a text against itself, near 0 for unrelated styles,
negative for opposite ones. Favourite phrases are reported, not scored (a short sample
rarely repeats one). Pure functions, no model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from persona.core.errors import TextError
from persona.core.persona.textstats import FUNCTION_WORDS, ngrams, sentences, words

# Rates per word in everyday English (rough, from common frequency lists), the centre each
# function word is measured from; the scale is sqrt(rate), as in a chi statistic.
FUNCTION_RATES = {
    "the": .050, "and": .030, "to": .025, "of": .022, "a": .021, "i": .020, "in": .015,
    "it": .012, "that": .012, "is": .010, "was": .009, "you": .010, "my": .006, "for": .008,
    "on": .007, "with": .006, "but": .005, "so": .004, "not": .004, "at": .004, "be": .005,
    "have": .005, "this": .005, "me": .003, "we": .004, "they": .004, "he": .005, "she": .003,
    "just": .002, "very": .0015,
}
# Marks per word, likewise.
PUNCTUATION_RATES = {
    ".": .060, ",": .050, "!": .003, "?": .004, ";": .001, ":": .002, "-": .003, "'": .015,
    '"': .004, "…": .001, "(": .001,
}
_MARKS = {"—": "-", "–": "-", "’": "'", "“": '"', "”": '"', "...": "…"}
_DASH = re.compile(r"(?<=\s)-+(?=\s)|—|–")  # a dash between words, not a hyphen
# (name, centre, scale) of the shape features.
SHAPE = (("word_length", 4.3, 0.8), ("sentence_length", 16.0, 8.0),
         ("sentence_length_sd", 8.0, 5.0), ("richness", 0.72, 0.1),
         ("long_words", 0.2, 0.08))
RICHNESS_WINDOW = 40  # words: the moving-average type-token ratio does not shrink with length


@dataclass(frozen=True)
class StyleProfile:
    """How a text is written; rates are per word."""

    words: int
    word_length: float  # mean letters per word
    sentence_length: float  # mean words per sentence
    sentence_length_sd: float
    richness: float  # moving-average type-token ratio over RICHNESS_WINDOW words
    long_words: float  # share of words of 7 letters or more
    function_words: dict[str, float] = field(default_factory=dict)
    punctuation: dict[str, float] = field(default_factory=dict)
    phrases: list[tuple[str, int]] = field(default_factory=list)  # favourite, most used first

    def to_dict(self) -> dict:
        return {"words": self.words, **{name: round(getattr(self, name), 4)
                                        for name, _, _ in SHAPE},
                "function_words": {k: round(v, 4) for k, v in self.function_words.items()},
                "punctuation": {k: round(v, 4) for k, v in self.punctuation.items()},
                "phrases": [[p, n] for p, n in self.phrases]}


def profile(text: str, *, phrases: int = 5) -> StyleProfile:
    """The stylometric profile of ``text`` (``phrases``: how many favourite phrases to keep).

    Raises ``TextError`` for a text without words.
    """
    tokens = words(text)
    if not tokens:
        raise TextError("a style profile needs a text with words in it; this one has none.")
    n = len(tokens)
    counts = Counter(tokens)
    lengths = [len(w) for w in tokens]
    per_sentence = [len(words(s)) for s in sentences(text)] or [n]
    per_sentence = [k for k in per_sentence if k] or [n]
    mean_len = sum(per_sentence) / len(per_sentence)
    sd = math.sqrt(sum((k - mean_len) ** 2 for k in per_sentence) / len(per_sentence))
    return StyleProfile(
        words=n, word_length=sum(lengths) / n, sentence_length=mean_len,
        sentence_length_sd=sd, richness=_mattr(tokens),
        long_words=sum(k >= 7 for k in lengths) / n,
        function_words={w: counts[w] / n for w in FUNCTION_RATES},
        punctuation=_punctuation(text, n), phrases=favourite_phrases(tokens, phrases))


def _mattr(tokens: list[str]) -> float:
    """Moving-average type-token ratio (the plain ratio for a text shorter than a window)."""
    w = RICHNESS_WINDOW
    if len(tokens) <= w:
        return len(set(tokens)) / len(tokens)
    windows = [len(set(tokens[i:i + w])) / w for i in range(len(tokens) - w + 1)]
    return sum(windows) / len(windows)


def _punctuation(text: str, n: int) -> dict[str, float]:
    text = _DASH.sub(" — ", text)
    for mark, same in _MARKS.items():
        text = text.replace(mark, same)
    text = re.sub(r"(?<=\w)-(?=\w)", "", text)  # hyphens inside words are spelling
    return {m: text.count(m) / n for m in PUNCTUATION_RATES}


def favourite_phrases(tokens: list[str], limit: int = 5) -> list[tuple[str, int]]:
    """Phrases of two to four words used at least twice, not made of function words only; a
    phrase inside a longer one used as often is left out ("i love my" in "i love my cat")."""
    found: Counter[str] = Counter()
    for size in (4, 3, 2):
        for gram in ngrams(tokens, size):
            if any(w not in FUNCTION_WORDS for w in gram):
                found[" ".join(gram)] += 1
    repeated = {p: c for p, c in found.items() if c >= 2}
    kept = [(p, c) for p, c in repeated.items()
            if not any(q != p and f" {p} " in f" {q} " and n >= c for q, n in repeated.items())]
    return sorted(kept, key=lambda pc: (-pc[1], pc[0]))[:limit]


def vector(p: StyleProfile) -> list[float]:
    """``p`` as one vector: each group centred, scaled and of unit length (zero if the text
    is exactly average in that group)."""
    shape = [(getattr(p, name) - centre) / scale for name, centre, scale in SHAPE]
    function = [(p.function_words.get(w, 0.0) - r) / math.sqrt(r)
                for w, r in FUNCTION_RATES.items()]
    marks = [(p.punctuation.get(m, 0.0) - r) / math.sqrt(r)
             for m, r in PUNCTUATION_RATES.items()]
    return [x for group in (shape, function, marks) for x in _unit(group)]


def _unit(xs: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in xs))
    return [x / norm for x in xs] if norm else [0.0] * len(xs)


GROUPS = 3


def similarity(a: StyleProfile | str, b: StyleProfile | str) -> float:
    """How alike two styles are, in [-1, 1]: the cosine of their vectors (the mean of the
    three groups' cosines). Texts are profiled first."""
    va = vector(profile(a) if isinstance(a, str) else a)
    vb = vector(profile(b) if isinstance(b, str) else b)
    if va == vb:
        return 1.0
    return max(-1.0, min(1.0, sum(x * y for x, y in zip(va, vb, strict=True)) / GROUPS))
