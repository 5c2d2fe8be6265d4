"""The shared vocabulary of the trainers: what a run is asked to do, what it reports as it
goes, and what it returns. Both backends (``dp_torch``, ``dp_mlx``) take and give these.

The privacy numbers (σ, q, steps) come from ``privacy.plan.RunPlan`` and are keyword-only
wherever they are passed on, as in Opacus.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoRAConfig:
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0  # dropout would make per-example gradients depend on the batch
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    layers: int | None = None  # adapt only the last N transformer blocks (mlx-lm's num_layers)


@dataclass
class TrainConfig:
    """One training run. ``noise_multiplier=0`` is the non-private run (``--epsilon inf``)."""

    noise_multiplier: float  # σ, from the plan
    sample_rate: float  # Poisson q, from the plan: each record joins each step with prob. q
    steps: int  # from the plan: about epochs / q
    clip_norm: float = 1.0  # C: every example's gradient is clipped to this L2 norm
    learning_rate: float = 2e-3
    max_seq_len: int = 256  # tokens of prompt + target; longer examples are cut (prompt first)
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    seed: int = 0
    checkpoint_every: int = 25  # steps between checkpoints (a SIGTERM also checkpoints)...
    checkpoint_seconds: float | None = 120.0  # ...or this long since the last one, if sooner
    threads: int | None = None  # torch threads; None: train_threads()
    delta: float | None = None  # the plan's δ, for "ε so far"; None: 1/n**1.1 of the examples
    # A private run publishes the average of its iterates (core/train/averaging.py).
    average_iterates: bool = True

    def __post_init__(self) -> None:
        if self.noise_multiplier < 0 or not math.isfinite(self.noise_multiplier):
            raise ValueError(f"noise_multiplier must be finite and >= 0, not {self.noise_multiplier}")
        if not 0 < self.sample_rate <= 1:
            raise ValueError(f"sample_rate must be in (0, 1], not {self.sample_rate}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, not {self.steps}")
        if self.clip_norm <= 0:
            raise ValueError(f"clip_norm must be positive, not {self.clip_norm}")

    @property
    def private(self) -> bool:
        return self.noise_multiplier > 0


@dataclass
class TrainProgress:
    step: int  # steps done so far
    steps: int  # steps planned
    loss: float  # mean loss of the last step's examples (nan for an empty Poisson batch)
    epsilon: float  # ε spent so far by a record that took part in every step (inf: non-private)
    tokens: int  # target tokens seen so far
    seconds: float


@dataclass
class TrainResult:
    adapter_dir: Path  # where the adapter was saved (the backend's own format)
    steps_done: int
    steps: int
    epsilon: float  # of this run alone, from the accountant (inf when non-private)
    tokens: int  # target tokens trained on
    seconds: float
    losses: list[float] = field(default_factory=list)  # per step
    stopped: bool = False  # a stop was requested; a checkpoint was written and can resume
    resumed_from: int = 0  # the step the run resumed at (0: a fresh run)
    # The optimiser went on from the state its starting adapter's run left (optimizer_state).
    optimizer_continued: bool = False


def train_threads() -> int:
    """Threads for training and its evaluation: every core, at most 8.

    Unlike chat (``persona.core.llm.generation.default_threads`` leaves a core for audio and the
    UI), training is a batch job: the nightly one runs at idle priority, which gives way to
    anything else. On 2 idle cores, 2 threads train ~1.4x faster than 1 (measured: 74 vs 55
    tokens/s).
    """
    return max(1, min(8, os.cpu_count() or 1))


ProgressCallback = Callable[[TrainProgress], None]
StopCheck = Callable[[], bool]
