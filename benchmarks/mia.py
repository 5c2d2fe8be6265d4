"""Membership-inference audit: how well a record's loss tells whether it was trained on.

The loss-threshold attack (Yeom et al., 2018) guesses "member" when a record's loss under
the adapter is low; its AUC over every threshold is the probability that a random member
has a lower loss than a random non-member (ties count half). 0.5 is guessing; DP bounds how
far above 0.5 any attack can get. The calibrated attack scores the drop in loss from the
base model to the adapter instead (Carlini et al.'s reference-model idea with the base model
as reference), which removes how easy a record is in itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def auc(member_scores: Sequence[float], outside_scores: Sequence[float]) -> float:
    """P(member score > non-member score) + ½ P(equal): the attack's ROC AUC."""
    m = np.asarray(member_scores, dtype=float)
    o = np.asarray(outside_scores, dtype=float)
    if not len(m) or not len(o):
        raise ValueError("the audit needs at least one member and one non-member")
    ranks = _ranks(np.concatenate([m, o]))
    # Mann–Whitney U of the members, from their rank sum.
    u = ranks[:len(m)].sum() - len(m) * (len(m) + 1) / 2
    return float(u / (len(m) * len(o)))


def loss_attack_auc(member_losses, outside_losses) -> float:
    """AUC of the loss-threshold attack: a lower loss means "member"."""
    return auc(-np.asarray(member_losses), -np.asarray(outside_losses))


def calibrated_attack_auc(member_losses, member_base, outside_losses, outside_base) -> float:
    """AUC of the attack scoring each record by how much the adapter lowered its loss."""
    return auc(np.asarray(member_base) - np.asarray(member_losses),
               np.asarray(outside_base) - np.asarray(outside_losses))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(1, len(x) + 1)
    values = x[order]
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or values[i] != values[start]:
            ranks[order[start:i]] = (start + 1 + i) / 2
            start = i
    return ranks
