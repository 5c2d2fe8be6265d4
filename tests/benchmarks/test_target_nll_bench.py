"""bench_target_nll's table from its jobs' answers (the jobs themselves are the benchmark's)."""

from __future__ import annotations

from benchmarks import bench_target_nll as bench


def test_the_table_gives_medians_per_batch_and_the_peak_memory():
    def run(train, ev, rss):
        return {"train_seconds": train, "eval_seconds": ev, "rss_mb": rss, "eval_nll": 3.25}

    out = {"target positions": [run(30.0, 10.0, 4000), run(36.0, 12.0, 4100)],
           "every position": [run(45.0, 14.0, 4500), run(39.0, 16.0, 4400)]}
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in bench.table(out, batches=3).splitlines()[2:]]
    assert rows == [["target positions", "11.0", "11.0", "4100", "3.25000"],
                    ["every position", "14.0", "15.0", "4500", "3.25000"]]
    assert [name for name, _ in bench.VARIANTS] == list(out)
