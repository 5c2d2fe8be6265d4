"""The pairs the reward model trains on: the person's explicit choices, plus pairs made from
thumbs.

A thumb says only "good" or "bad" about one reply, not better than what. The reward model is
pairwise, so a thumb becomes pairs: a reply voted up is preferred to a reply voted down *for
a similar question* (question vectors' cosine >= ``SIMILAR``, or the same words when no
embedder is given), each up-voted reply paired with at most ``PER_THUMB`` of the most
similar down-voted ones. A reply voted up with no down-voted one near it yields no pair yet
(a pointwise term would learn from it, but would also learn "replies to easy questions are
good"; pairs over similar questions compare like with like).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from persona.core.prefs.store import Choice

SIMILAR = 0.5
PER_THUMB = 3


@dataclass(frozen=True)
class Pair:
    question: str
    chosen: str
    rejected: str
    source: str  # "pair" (the person chose) or "thumbs"


def training_pairs(thumbs: Sequence[Choice], pairs: Sequence[Choice],
                   encode: Callable[[Sequence[str]], np.ndarray] | None = None) -> list[Pair]:
    """Explicit pairs first, then the pairs made from thumbs (see the module docstring)."""
    out = [Pair(p.question, p.chosen, p.rejected, "pair") for p in pairs]
    return out + thumb_pairs(thumbs, encode)


def thumb_pairs(thumbs: Sequence[Choice],
                encode: Callable[[Sequence[str]], np.ndarray] | None = None) -> list[Pair]:
    ups = [t for t in thumbs if t.vote > 0]
    downs = [t for t in thumbs if t.vote < 0]
    if not ups or not downs:
        return []
    sim = _similarity([t.question for t in ups], [t.question for t in downs], encode)
    out = []
    for i, up in enumerate(ups):
        near = [j for j in np.argsort(-sim[i], kind="stable")[:PER_THUMB]
                if sim[i, j] >= SIMILAR and downs[j].reply != up.reply]
        out.extend(Pair(up.question, up.reply, downs[j].reply, "thumbs") for j in near)
    return out


def _similarity(a: list[str], b: list[str],
                encode: Callable[[Sequence[str]], np.ndarray] | None) -> np.ndarray:
    """Cosine of each question in ``a`` with each in ``b`` (1/0 on the same words without
    an embedder; an empty question is like no other)."""
    fold = [" ".join(q.casefold().split()) for q in a], [" ".join(q.casefold().split())
                                                         for q in b]
    same = np.array([[float(x == y and bool(x)) for y in fold[1]] for x in fold[0]])
    texts = [q for q in dict.fromkeys(a + b) if q.strip()]
    if encode is None or not texts:
        return same
    vec = dict(zip(texts, np.asarray(encode(texts), dtype=np.float64), strict=True))
    dim = next(iter(vec.values())).shape[0]
    zero = np.zeros(dim)
    va = np.array([vec.get(q, zero) for q in a])
    vb = np.array([vec.get(q, zero) for q in b])
    na = np.linalg.norm(va, axis=1, keepdims=True)
    nb = np.linalg.norm(vb, axis=1, keepdims=True)
    cos = (va / np.maximum(na, 1e-12)) @ (vb / np.maximum(nb, 1e-12)).T
    return np.maximum(cos, same)
