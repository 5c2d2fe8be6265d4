"""Shared set-up for the benchmarks that run the whole pipeline on the sample persona."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from persona.core.cli.demo import load_sample_persona
from persona.core.paths import Home
from persona.core.pipeline import Pipeline

CACHE = Path(__file__).resolve().parent / ".cache"


def sample_pipeline(root: Path | None = None) -> Pipeline:
    """A pipeline over a fresh home holding the sample persona, models loaded and warm."""
    # Model files and conversions live in the per-user cache (core/models/cache.py), shared
    # by every home: a fresh home converts nothing.
    root = root or Path(tempfile.mkdtemp(prefix="persona-bench-"))
    pipe = Pipeline(Home.resolve(root))
    load_sample_persona(pipe)
    pipe.warm_up()
    return pipe


def percentiles(seconds: list[float]) -> tuple[float, float]:
    a = np.asarray(seconds, dtype=float)
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))
