"""Clustering unit vectors: spherical k-means, the silhouette score, and the choice of k.

Pure numpy and deterministic (k-means++ from a fixed seed): the same vectors give the same
groups. Used by topics.py; bounded for large homes (``fit`` works on a sample).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from persona.core.memory.topics import TopicOptions


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, iters: int = 60) -> np.ndarray:
    """Cluster labels of the unit rows of ``x`` into ``k`` groups by cosine (spherical
    k-means, k-means++ start from ``seed``)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        d = np.maximum(0.0, 1.0 - np.max(x @ np.stack(centres).T, axis=1))
        p = d ** 2
        centres.append(x[rng.choice(n, p=p / p.sum())] if p.sum() > 0 else x[rng.integers(n)])
    c = np.stack(centres)
    labels = np.full(n, -1)
    for _ in range(iters):
        new = np.argmax(x @ c.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                mean = members.sum(0)
                c[j] = mean / (np.linalg.norm(mean) or 1.0)
    return labels


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a clustering of unit rows, by cosine distance (-1..1); a point
    alone in its cluster scores 0."""
    ks, index = np.unique(labels, return_inverse=True)
    if len(ks) < 2:
        return -1.0
    onehot = (index[:, None] == np.arange(len(ks))[None, :]).astype(np.float64)
    sums = (1.0 - x @ x.T) @ onehot  # each point's summed distance to each cluster
    counts = onehot.sum(0)
    rows_ = np.arange(len(x))
    own = counts[index]
    a = sums[rows_, index] / np.maximum(own - 1, 1)
    other = sums / counts
    other[rows_, index] = np.inf
    b = other.min(1)
    s = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


# Below this silhouette the memories hardly fall into topics (a short diary of unrelated
# days scores 0.01-0.05 with MiniLM; two separate subjects 0.1 and more).
CLEAR = 0.08


def choose_k(x: np.ndarray, options: TopicOptions) -> tuple[np.ndarray, float | None]:
    """The labels of the k (2..max_topics) with the best silhouette, and that silhouette;
    one topic (and None) for few memories."""
    n = len(x)
    if n < options.min_memories:
        return np.zeros(n, dtype=int), None
    rng = np.random.default_rng(options.seed)
    sample = (np.sort(rng.choice(n, options.silhouette_sample, replace=False))
              if n > options.silhouette_sample else np.arange(n))
    best, best_score = np.zeros(n, dtype=int), -2.0
    for k in range(2, min(options.max_topics, n // 2) + 1):
        labels = kmeans(x, k, seed=options.seed)
        score = silhouette(x[sample], labels[sample])
        if score > best_score + 1e-9:
            best, best_score = labels, score
    if best_score < CLEAR:  # no k is clearly better: finer groups at least name something
        k = min(options.max_topics, max(2, n // 3))
        best = kmeans(x, k, seed=options.seed)
        best_score = silhouette(x[sample], best[sample])
    return best, best_score


def fit(x: np.ndarray, options: TopicOptions) -> tuple[np.ndarray, float | None]:
    """``choose_k`` on at most ``fit_sample`` memories (a fixed random sample), then each
    memory in the topic whose centre is nearest: a 100,000-memory home costs as much as 4,000."""
    if len(x) <= options.fit_sample:
        return choose_k(x, options)
    rng = np.random.default_rng(options.seed)
    sample = np.sort(rng.choice(len(x), options.fit_sample, replace=False))
    labels, clarity = choose_k(x[sample], options)
    ks = np.unique(labels)
    centres = np.stack([x[sample][labels == j].mean(0) for j in ks])
    return ks[np.argmax(x @ centres.T, axis=1)], clarity
