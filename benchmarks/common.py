"""Shared set-up for the benchmarks that run the whole pipeline on the sample persona."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from persona.core.cli.demo import load_sample_persona
from persona.core.paths import Home
from persona.core.pipeline import Pipeline
from persona.core.settings import load_settings, save_settings

CACHE = Path(__file__).resolve().parent / ".cache"


def sample_pipeline(root: Path | None = None, llm: str | None = None,
                    **settings) -> Pipeline:
    """A pipeline over a fresh home holding the sample persona, models loaded and warm;
    ``llm`` (a catalog name) and any other ``settings`` are written into the home's
    settings, so every process that opens the home (a cold `persona ask` too) runs with
    them."""
    # Model files and conversions live in the per-user cache (core/models/cache.py), shared
    # by every home: a fresh home converts nothing.
    root = root or Path(tempfile.mkdtemp(prefix="persona-bench-"))
    home = Home.resolve(root)
    update = {**({"llm": llm} if llm else {}), **settings}
    if update:
        home.ensure()
        save_settings(load_settings(home.settings_file).model_copy(update=update),
                      home.settings_file)
    pipe = Pipeline(home)
    load_sample_persona(pipe)
    pipe.warm_up()
    return pipe


def percentiles(seconds: list[float]) -> tuple[float, float]:
    a = np.asarray(seconds, dtype=float)
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))
