"""The membership-inference audit's AUC, checked against its definition by brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmarks.mia import auc, calibrated_attack_auc, loss_attack_auc


def brute_auc(members, outside) -> float:
    pairs = list(itertools.product(members, outside))
    return sum(1.0 if m > o else 0.5 if m == o else 0.0 for m, o in pairs) / len(pairs)


def test_auc_is_the_probability_a_member_scores_higher():
    rng = np.random.default_rng(3)
    for _ in range(20):
        m = rng.integers(0, 6, size=rng.integers(1, 30)).astype(float)  # many ties
        o = rng.integers(0, 6, size=rng.integers(1, 30)).astype(float)
        assert auc(m, o) == pytest.approx(brute_auc(m, o))


def test_perfect_random_and_inverted_attacks():
    assert loss_attack_auc([0.1, 0.2], [1.0, 2.0]) == 1.0  # members have the lower loss
    assert loss_attack_auc([1.0, 2.0], [0.1, 0.2]) == 0.0
    assert loss_attack_auc([1.0, 1.0], [1.0, 1.0]) == 0.5
    rng = np.random.default_rng(0)
    same = rng.normal(size=4000)
    assert abs(loss_attack_auc(same[:2000], same[2000:]) - 0.5) < 0.03


def test_the_calibrated_attack_scores_the_drop_from_the_base_model():
    # Members are intrinsically harder (higher base loss) but the adapter lowered theirs more.
    member_base, member = [5.0, 6.0], [3.0, 4.0]
    outside_base, outside = [2.0, 2.5], [1.9, 2.4]
    assert loss_attack_auc(member, outside) == 0.0  # fooled by how easy the text is
    assert calibrated_attack_auc(member, member_base, outside, outside_base) == 1.0


def test_an_empty_side_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        auc([], [1.0])
