"""Iterate averaging: a private run publishes a weighted average of its DP-SGD iterates.

With gradients dominated by the DP noise (σ ≈ 1.08 on B ≈ 32 at the nightly defaults) Adam's
iterates do not settle at a minimum: they wander in a ball around it whose size grows with the
learning rate. The nightly schedule measured it on the Python text: the persona reached ~20.4
held-out perplexity after two nights and stayed there (benchmarks/RESULTS.md), while the plain
average of nights 1–3's adapters scored 19.9 — the iterates' errors are mostly noise, and
averaging cancels noise without slowing the descent the way a smaller learning rate would.

The average gives the t-th iterate the weight ``max(1 − BETA_MAX, 2 / (t + 1))``: weights
proportional to t while the run is young (Lacoste-Julien, Schmidt & Bach 2012: the average of
the later half, roughly, which forgets the start), and an exponential moving average of ~100
steps once t passes 199, so a persona trained for months still follows its new memories
(De et al. 2022 average DP-SGD's iterates the same way, with an EMA). The first iterate has
weight 1: nothing of the starting point stays unless the run goes on from a saved average.

The average is computed from the iterates only, each of which the DP-SGD analysis already
treats as released: it is post-processing and costs no privacy (privacy/METHOD.md). A run
that continues an adapter goes on with the average (the adapter itself) and with the last raw
iterate, kept beside the optimiser's state (``ITERATE_FILE``, ``optimizer_state``), so the
nights are one averaged run; without that state the iterate starts from the adapter and the
count from 0. Checkpoints keep the average so far (``AVERAGE_FILE``).

Arrays are NumPy float32 (the LoRA matrices: ~0.2 M numbers for the default model), so both
backends share this code: each step costs a copy of the adapter, not of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

BETA_MAX = 0.99  # the longest memory: an EMA over ~1 / (1 − 0.99) = 100 steps
ITERATE_FILE = "iterate.safetensors"  # beside the optimiser's state: the last raw iterate
AVERAGE_FILE = "average.safetensors"  # in a checkpoint: the average so far
_STEPS_KEY = "averaged_steps"


def weight(t: int) -> float:
    """The weight of the ``t``-th averaged iterate (t ≥ 1): 1 for the first."""
    if t < 1:
        raise ValueError(f"iterates are counted from 1, not {t}")
    return max(1.0 - BETA_MAX, 2.0 / (t + 1))


def describe() -> dict:
    """How the average is taken, for a run's identity (a checkpoint of another rule is not
    resumed)."""
    return {"rule": "linear-then-ema", "beta_max": BETA_MAX}


class IterateAverage:
    """The running average of a run's iterates and how many it holds."""

    def __init__(self, start: Mapping[str, np.ndarray], steps: int = 0):
        self.arrays = {name: np.array(a, dtype=np.float32) for name, a in start.items()}
        self.steps = int(steps)

    def update(self, iterate: Mapping[str, np.ndarray]) -> None:
        """Take in the next iterate (the same names and shapes as the average)."""
        self.steps += 1
        w = np.float32(weight(self.steps))
        for name, avg in self.arrays.items():
            avg += w * (np.asarray(iterate[name], dtype=np.float32) - avg)

    def save(self, path: Path) -> None:
        write(path, self.arrays, self.steps)

    @classmethod
    def load(cls, path: Path) -> IterateAverage:
        arrays, steps = read(path)
        return cls(arrays, steps)


def write(path: Path, arrays: Mapping[str, np.ndarray], steps: int) -> None:
    """Save ``arrays`` and the count of iterates behind them into ``path`` (safetensors)."""
    from safetensors.numpy import save_file

    save_file({name: np.ascontiguousarray(a, dtype=np.float32) for name, a in arrays.items()},
              str(path), metadata={_STEPS_KEY: str(int(steps))})


def read(path: Path) -> tuple[dict[str, np.ndarray], int]:
    """(arrays, count of iterates) saved by ``write``; raises OSError or ValueError if damaged."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        saved = (f.metadata() or {}).get(_STEPS_KEY)
        if saved is None or not saved.isdigit():
            raise ValueError(f"{path} does not say how many iterates it holds")
        steps = int(saved)
        return {name: f.get_tensor(name) for name in f.keys()}, steps  # noqa: SIM118
