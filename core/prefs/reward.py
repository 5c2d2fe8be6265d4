"""The personal reward model: Bradley-Terry over feature differences, numpy only.

P(a preferred to b) = sigmoid(w · (z(a) - z(b))), z = the features standardised by the
training replies' mean and spread. ``w`` minimises the logistic loss plus ``l2/2 |w|^2``
(Newton's method: the problem is convex and has ~25 weights).

Held-out accuracy: each pair is predicted by a model fitted without its fold (``FOLDS``
folds by a hash of its question, so that two pairs about one question never sit on both
sides). The model *beats chance* when the number of held-out pairs it got right is unlikely
under coin flips: a one-sided binomial test at ``ALPHA``, and at least ``MIN_PAIRS`` pairs
(5 of 5 right has p = 1/32, but five pairs say little about the next reply).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field

import numpy as np

FOLDS = 5
ALPHA = 0.05
MIN_PAIRS = 6
L2 = 1.0


@dataclass
class Fitted:
    """Standardisation and weights: ``score(raw) = ((raw - mean) / scale) @ weights``."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def score(self, raw: np.ndarray) -> np.ndarray:
        return ((np.atleast_2d(raw) - self.mean) / self.scale) @ self.weights


@dataclass
class Heldout:
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    @property
    def p_value(self) -> float:
        """P(at least ``correct`` right of ``total`` by coin flips), one-sided."""
        n, k = self.total, self.correct
        if n == 0:
            return 1.0
        return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n

    @property
    def beats_chance(self) -> bool:
        return self.total >= MIN_PAIRS and self.p_value < ALPHA


@dataclass
class RewardModel:
    fitted: Fitted
    heldout: Heldout
    n_pairs: int
    feature_names: list[str] = field(default_factory=list)

    def score(self, raw: np.ndarray) -> np.ndarray:
        return self.fitted.score(raw)

    def to_dict(self) -> dict:
        return {"mean": self.fitted.mean.tolist(), "scale": self.fitted.scale.tolist(),
                "weights": self.fitted.weights.tolist(), "heldout": asdict(self.heldout),
                "n_pairs": self.n_pairs, "feature_names": self.feature_names}

    @classmethod
    def from_dict(cls, d: dict) -> RewardModel:
        fitted = Fitted(np.asarray(d["mean"], dtype=np.float64),
                        np.asarray(d["scale"], dtype=np.float64),
                        np.asarray(d["weights"], dtype=np.float64))
        if not fitted.mean.shape == fitted.scale.shape == fitted.weights.shape:
            raise ValueError("mean, scale and weights differ in length")
        return cls(fitted, Heldout(**d["heldout"]), int(d["n_pairs"]),
                   list(d.get("feature_names", [])))


def fit(chosen: np.ndarray, rejected: np.ndarray, *, l2: float | np.ndarray = L2) -> Fitted:
    """Weights from raw feature rows of the chosen and the rejected reply of each pair;
    ``l2`` one penalty for every weight, or one per feature."""
    both = np.vstack([chosen, rejected])
    mean = both.mean(axis=0)
    scale = both.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a feature all replies share carries nothing
    diff = (chosen - rejected) / scale
    w = np.zeros(diff.shape[1])
    penalty = np.broadcast_to(np.asarray(l2, dtype=np.float64), w.shape)
    for _ in range(50):
        s = _sigmoid(diff @ w)
        grad = -diff.T @ (1 - s) + penalty * w
        hess = (diff * (s * (1 - s))[:, None]).T @ diff + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Fitted(mean, scale, w)


def train(chosen: np.ndarray, rejected: np.ndarray, groups: list[str], *,
          feature_names: list[str] | None = None,
          l2: float | np.ndarray = L2) -> RewardModel:
    """Fit on every pair, and measure held-out accuracy by ``FOLDS``-fold cross-validation
    over ``groups`` (one key per pair, e.g. its question)."""
    chosen, rejected = np.asarray(chosen, np.float64), np.asarray(rejected, np.float64)
    if len(chosen) == 0:
        raise ValueError("no pairs to train on")
    return RewardModel(fit(chosen, rejected, l2=l2),
                       cross_validate(chosen, rejected, groups, l2=l2),
                       len(chosen), list(feature_names or []))


def folds_of(groups: list[str]) -> np.ndarray:
    """The fold of each pair: a hash of its group, so the split is the same on every run;
    by pair when the groups are too few to fill the folds."""
    keys = groups if len(set(groups)) >= FOLDS else [f"{g}\x00{i}" for i, g in enumerate(groups)]
    return np.array([int(hashlib.sha256(k.encode("utf-8")).hexdigest(), 16) % FOLDS
                     for k in keys])


def cross_validate(chosen: np.ndarray, rejected: np.ndarray, groups: list[str], *,
                   l2: float | np.ndarray = L2) -> Heldout:
    folds = folds_of(groups)
    out = Heldout()
    for k in range(FOLDS):
        test = folds == k
        if not test.any() or test.all():
            continue
        model = fit(chosen[~test], rejected[~test], l2=l2)
        margin = model.score(chosen[test]) - model.score(rejected[test])
        out.correct += int((margin > 0).sum())
        out.total += int(test.sum())
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))  # no overflow for large |x|
