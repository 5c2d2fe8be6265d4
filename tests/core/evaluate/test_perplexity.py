"""Perplexity maths and the padding of token batches (no model needed)."""

from __future__ import annotations

import math

import pytest
import torch

from persona.core.evaluate.perplexity import (
    HeldoutLoss,
    combine,
    length_batches,
    pad_batch,
    perplexity,
)
from persona.core.train.tokens import Encoded


def test_perplexity_is_exp_of_mean_nll():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(50.0)) == pytest.approx(50.0)
    assert perplexity(1e6) == math.inf
    assert math.isnan(perplexity(math.nan))
    assert HeldoutLoss(math.log(7.0), 10).perplexity == pytest.approx(7.0)
    with pytest.raises(ValueError, match="cannot be negative, got -0.5"):
        perplexity(-0.5)


def test_combine_weighs_by_tokens():
    nll, tokens = combine([(2.0, 100), (4.0, 300), (9.0, 0)])
    assert tokens == 400 and nll == pytest.approx(3.5)
    nll, tokens = combine([])
    assert tokens == 0 and math.isnan(nll)


def test_pad_batch_marks_only_target_tokens():
    batch = [Encoded("a", [5, 6, 7, 8], 2), Encoded("b", [9, 10], 1)]
    ids, attention, target = pad_batch(batch, pad_id=0)
    assert ids.tolist() == [[5, 6, 7, 8], [9, 10, 0, 0]]
    assert attention.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert target.tolist() == [[False, False, True, True], [False, True, False, False]]
    assert ids.dtype == torch.long and target.dtype == torch.bool


def test_length_batches_group_similar_lengths():
    encoded = [Encoded(str(n), list(range(n)), 1) for n in (3, 9, 2, 8, 4)]
    batches = length_batches(encoded, 2)
    assert [[len(e.ids) for e in b] for b in batches] == [[9, 8], [4, 3], [2]]
    assert length_batches([], 4) == []
    with pytest.raises(ValueError, match="at least 1, not 0"):
        length_batches(encoded, 0)


def test_length_batches_keep_padded_positions_within_a_token_budget():
    encoded = [Encoded(str(n), list(range(n)), 1) for n in (40, 3, 9, 2, 8, 4, 3)]
    batches = length_batches(encoded, 8, max_tokens=16)
    assert [[len(e.ids) for e in b] for b in batches] == [[40], [9], [8, 4], [3, 3, 2]]
    assert all(len(b) * len(b[0].ids) <= 16 for b in batches[1:])  # the 40 is alone
    assert sorted(e.record_id for b in batches for e in b) == sorted(e.record_id
                                                                      for e in encoded)
    with pytest.raises(ValueError, match="max_tokens"):
        length_batches(encoded, 8, max_tokens=0)
