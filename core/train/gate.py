"""The promotion gate: is a night's candidate adapter worse than the adapter in use?

Both are scored on the same held-out records (core/evaluate/record_scores.py), so their
difference is paired record by record. The gate refuses a candidate only when its held-out
NLL is worse by more than NOISE_Z standard errors of that paired difference: worse beyond
what the choice of held-out records explains. Two adapters a night apart that are equally
good differ on a finite slice by chance, and a gate that refused every chance difference
threw nights away, their privacy budget spent, once the nights' gains became small (the
nightly benchmark refused nights 8, 9 and 10 in a row: benchmarks/RESULTS.md). A candidate that broke something (a wrecked model, a corrupted text) is worse
by many standard errors and is still refused.

The standard error is that of a ratio estimator (per-token mean over records of different
lengths): with per-record NLL sums d_i of the difference and token counts n_i,
D = Σ d_i / Σ n_i and SE² = k/(k-1) · Σ (d_i − D n_i)² / (Σ n_i)² over the k records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from persona.core.atomic import atomic_write_text
from persona.core.evaluate.perplexity import HeldoutLoss

# A candidate is refused when worse by more than this many standard errors (one-sided, ~2.3%
# of equally good candidates refused).
NOISE_Z = 2.0
SCORES_FILE = "heldout_scores.json"  # beside an adapter: its per-record held-out scores


@dataclass(frozen=True)
class Difference:
    """Candidate minus reference: held-out NLL per token and its standard error."""

    nll: float
    standard_error: float
    records: int

    @property
    def worse_beyond_noise(self) -> bool:
        """True also when either number is not a number: nothing unmeasurable passes."""
        return not self.nll <= NOISE_Z * self.standard_error

    def describe(self) -> str:
        return f"{self.nll:+.4f} ± {self.standard_error:.4f} nats a token"


def paired_difference(reference: Sequence[HeldoutLoss],
                      candidate: Sequence[HeldoutLoss]) -> Difference:
    """The candidate's held-out NLL per token minus the reference's, paired by record."""
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference scores against {len(candidate)} "
                         "candidate scores: not the same records")
    pairs = [(c.nll * c.tokens - r.nll * r.tokens, r.tokens)
             for r, c in zip(reference, candidate, strict=True)]
    if any(r.tokens != c.tokens for r, c in zip(reference, candidate, strict=True)):
        raise ValueError("the two adapters' scores are of different token counts")
    tokens = sum(n for _, n in pairs)
    if not tokens:
        return Difference(math.nan, math.nan, 0)
    mean = sum(d for d, _ in pairs) / tokens
    k = len(pairs)
    spread = sum((d - mean * n) ** 2 for d, n in pairs)
    se = math.sqrt(k / (k - 1) * spread) / tokens if k > 1 else 0.0
    return Difference(mean, se, k)


def save_scores(folder: Path, scores: Sequence[HeldoutLoss]) -> None:
    """Keep an adapter's per-record held-out scores beside it (the next night pairs against
    them instead of scoring the adapter again)."""
    atomic_write_text(Path(folder) / SCORES_FILE,
                      json.dumps([[s.nll, s.tokens] for s in scores]) + "\n")


def load_scores(folder: Path | None) -> list[HeldoutLoss] | None:
    """The scores kept beside an adapter, or None (none kept, or unreadable)."""
    if folder is None:
        return None
    try:
        data = json.loads((Path(folder) / SCORES_FILE).read_text(encoding="utf-8"))
        return [HeldoutLoss(float(nll), int(n)) for nll, n in data]
    except (OSError, ValueError, TypeError):
        return None
