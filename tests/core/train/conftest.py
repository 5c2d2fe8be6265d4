"""What the tests of the two DP trainers (torch and MLX) share: their data (the ``corpus``
fixture), their checks of a run planned for ε = 8 and of one whose Poisson batches are all
empty, and a run that crashes after a periodic checkpoint.

The data is tinyshakespeare split by position: training lines from the first 90%, held-out
lines from the last 10%. (Helpers live here, not in a plain module, so that pytest rewrites
their asserts into informative failures.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.corpus import corpus_text
from persona.core.train.checkpoint import load_checkpoint
from persona.core.train.config import TrainConfig, TrainResult
from persona.core.train.dataset import TrainingExample
from persona.privacy.rdp import calibrate_noise, default_delta, run_epsilon


def training_side_lines(n: int) -> list[str]:
    """The first ``n`` distinct non-empty lines of the training side (first 90%), as a home's
    memories."""
    text = corpus_text()
    kept = [ln.strip() for ln in text[: int(len(text) * 0.9)].splitlines() if ln.strip()]
    return list(dict.fromkeys(kept))[:n]


def lines(text: str, n: int, prefix: str) -> list[TrainingExample]:
    kept = [line.strip() for line in text.splitlines() if line.strip()][:n]
    return [TrainingExample(f"{prefix}{i}", "", line) for i, line in enumerate(kept)]


@pytest.fixture(scope="module")
def corpus(request) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """(the first ``N_TRAIN`` lines of the training part, the first ``N_HELDOUT`` of the
    held-out part), in the numbers of the requesting test module."""
    text = corpus_text()
    cut = int(len(text) * 0.9)  # by position, never at random lines
    return (lines(text[:cut], request.module.N_TRAIN, "train-"),
            lines(text[cut:], request.module.N_HELDOUT, "heldout-"))


def train_at_epsilon_8(train: Callable[..., TrainResult], model_folder: Path,
                       examples: list[TrainingExample],
                       config: Callable[[float, float], TrainConfig], out_dir: Path, *,
                       sample_rate: float, steps: int):
    """Run ``train`` (``train_torch`` or ``train_mlx``) on ``examples`` with σ calibrated to
    ε = 8 at δ = default_delta(n); ``config(σ, δ)`` gives the rest of the plan.
    Returns (result, σ, δ, the progress reports)."""
    delta = default_delta(len(examples))
    sigma = calibrate_noise(target_epsilon=8.0, delta=delta, sample_rate=sample_rate,
                            steps=steps)
    progress = []
    result = train(model_folder, examples, config(sigma, delta), out_dir=out_dir,
                   on_progress=progress.append)
    return result, sigma, delta, progress


def check_run_at_epsilon_8(dp_run, *, sample_rate: float, steps: int) -> None:
    """``dp_run`` (from ``train_at_epsilon_8``) took every planned step, and the accountant's
    ε is the planned one; the progress reports grow up to it."""
    result, sigma, delta, progress = dp_run
    assert sigma > 0.3  # real noise, not a token amount
    assert result.steps_done == result.steps == steps and not result.stopped
    assert len(result.losses) == steps and result.tokens > 0
    assert result.epsilon == pytest.approx(run_epsilon(
        noise_multiplier=sigma, sample_rate=sample_rate, steps=steps, delta=delta), rel=1e-9)
    assert 7.9 <= result.epsilon <= 8.0
    assert [p.step for p in progress] == list(range(1, steps + 1))
    eps = [p.epsilon for p in progress]
    assert eps == sorted(eps) and eps[-1] == pytest.approx(result.epsilon)


def check_noise_only_run(noisy: TrainResult, *, examples: int) -> None:
    """``noisy`` (σ = 1, q = 1e-9, 2 steps on ``examples`` examples) saw no example, yet
    took and accounted both steps."""
    assert noisy.steps_done == 2 and noisy.tokens == 0
    assert all(math.isnan(x) for x in noisy.losses)
    assert noisy.epsilon == pytest.approx(run_epsilon(
        noise_multiplier=1.0, sample_rate=1e-9, steps=2, delta=default_delta(examples)),
        rel=1e-9)


def crash_at_step_3(train: Callable[..., TrainResult], model_folder: Path,
                    examples: list[TrainingExample], config: TrainConfig, *, out_dir: Path,
                    checkpoint_dir: Path) -> None:
    """Run ``train`` until it dies at step 3 (an exception stands in for kill -9: either way
    only what is on disk survives; test_checkpoint.py kills a save for real). ``config``
    checkpoints every 2 steps: the checkpoint of step 2 is there, and no adapter."""
    def crash(progress):
        if progress.step == 3:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(model_folder, examples, config, out_dir=out_dir, checkpoint_dir=checkpoint_dir,
              on_progress=crash)
    assert load_checkpoint(checkpoint_dir).step == 2 and not out_dir.exists()
