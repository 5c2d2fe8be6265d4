"""benchmarks/gate_noise.py's table: each kept adapter's perplexity and its paired difference
from the one before (the scoring itself is core.evaluate.record_scores, tested with a real
model in tests/core/train/test_nll_mlx.py and test_runner.py)."""

from __future__ import annotations

import math

from benchmarks.gate_noise import kept_versions, table
from persona.core.evaluate.perplexity import HeldoutLoss


def test_the_table_pairs_each_adapter_with_the_one_before(tmp_path):
    for name in ("20261204T070930-b", "20261204T052249-a"):
        (tmp_path / "adapters" / "versions" / name).mkdir(parents=True)
    assert [p.name for p in kept_versions(tmp_path)] == ["20261204T052249-a",
                                                         "20261204T070930-b"]
    older = [HeldoutLoss(2.0, 10), HeldoutLoss(3.0, 30)]
    newer = [HeldoutLoss(1.9, 10), HeldoutLoss(3.0, 30)]
    rows = table([("a", older), ("b", newer)]).splitlines()[2:]
    assert f"{math.exp((20 + 90) / 40):.3f}" in rows[0] and "+" not in rows[0]
    assert "-0.02500" in rows[1]  # (19 + 90 - 110) / 40 nats a token
