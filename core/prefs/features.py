"""What the reward model sees of a reply: a few style numbers and its MiniLM vector.

The style numbers are the ones a person notices (length, sentence length, questions back,
hedging, "I"/"you", exclamation marks, emoji, numbers); they also make the summary readable.
The 384-dim sentence vector is projected onto ``PROJECTED`` fixed random directions (a
seeded Gaussian matrix, the same on every machine): with 5-50 pairs a weight per dimension
would only learn noise, and random projection keeps the distances between replies. Their
weights are held back harder (``VECTOR_L2``) than the style weights (``STYLE_L2``): the
vector sees everything about a reply, so with few pairs it learns accidents of the
examples. Both numbers were chosen on the synthetic preferences of benchmarks/bench_prefs.py
(draws 0-2; the benchmark reports other draws): 32 directions at 10 kept length and hedging
preferences at 88-95% from 5-10 pairs and a topical one at 92-95% (16 at 1: 69-94%).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np

STYLE = ("length", "sentence_length", "questions", "hedges", "first_person",
         "second_person", "exclamations", "emoji", "numbers")
PROJECTED = 32
STYLE_L2 = 1.0
VECTOR_L2 = 10.0
_SEED = 20261202

_WORD = re.compile(r"[A-Za-z']+|\d+")
_SENTENCE_END = re.compile(r"[.!?…]+(?:\s|$)")
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_HEDGES = ("maybe", "perhaps", "probably", "possibly", "might", "i think", "i guess",
           "it seems", "not sure", "i believe", "kind of", "sort of", "could be")
_FIRST = frozenset({"i", "me", "my", "mine", "i'm", "i've", "i'd", "i'll", "myself"})
_SECOND = frozenset({"you", "your", "yours", "you're", "you've", "you'd", "you'll",
                     "yourself"})


def style_features(text: str) -> np.ndarray:
    """The ``STYLE`` numbers of one reply (rates per word or per sentence, so that length
    is counted once, by ``length``)."""
    words = [w.lower() for w in _WORD.findall(text)]
    n = max(1, len(words))
    sentences = max(1, len(_SENTENCE_END.findall(text.strip() + " ")))
    low = " " + " ".join(words) + " "
    hedges = sum(low.count(f" {h} ") for h in _HEDGES)
    return np.array([
        math.log1p(len(words)),
        len(words) / sentences,
        text.count("?") / sentences,
        hedges / sentences,
        sum(w in _FIRST for w in words) / n,
        sum(w in _SECOND for w in words) / n,
        text.count("!") / sentences,
        float(len(_EMOJI.findall(text))),
        sum(w.isdigit() for w in words) / n,
    ], dtype=np.float64)


def projection(dim: int) -> np.ndarray:
    """The fixed ``(dim, PROJECTED)`` random projection of sentence vectors."""
    rng = np.random.default_rng(_SEED)
    return rng.standard_normal((dim, PROJECTED)) / math.sqrt(PROJECTED)


class Featurizer:
    """Raw feature rows of replies: style numbers, then the projected vector.

    ``encode`` is the embedder's (``pipe.embedder.encode``); vectors are cached per text in
    this process, so retraining after each new choice embeds only the new replies.
    """

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray] | None) -> None:
        self.encode = encode
        self._cache: dict[str, np.ndarray] = {}

    @property
    def width(self) -> int:
        return len(STYLE) + (PROJECTED if self.encode is not None else 0)

    def penalties(self) -> np.ndarray:
        """The L2 penalty of each feature's weight (see the module docstring)."""
        return np.r_[np.full(len(STYLE), STYLE_L2),
                     np.full(self.width - len(STYLE), VECTOR_L2)]

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        style = np.array([style_features(t) for t in texts]).reshape(len(texts), len(STYLE))
        if self.encode is None:
            return style
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = np.asarray(self.encode(missing), dtype=np.float64)
            proj = projection(vectors.shape[1])
            for t, v in zip(missing, vectors @ proj, strict=True):
                self._cache[t] = v
        return np.hstack([style, np.array([self._cache[t] for t in texts])])
