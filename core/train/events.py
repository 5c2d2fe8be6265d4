"""Training progress as JSON lines on stdout, for a parent process (`--progress-jsonl`).

The desktop app runs `persona train --progress-jsonl` as a child process and reads one JSON
object per line:

    {"event": "progress", "step": 3, "steps": 40, "loss": 2.91, "epsilon": 0.41}
    {"event": "log", "message": "Resuming the interrupted run …"}
    {"event": "done", ...the outcome, as `persona train --json` prints it}
    {"event": "error", "message": "there is nothing to train on yet: …"}

Numbers JSON cannot hold are written plainly: an infinite ε (a non-private run) as "inf",
a missing loss (an empty Poisson batch) as null. Every line is flushed at once, so a reader
tailing the output sees each step when it happens.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO

from persona.core.train.config import TrainProgress


def _plain(x: Any) -> Any:
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


class JsonlEvents:
    """Writes the events above to ``out`` (stdout by default), one line each."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps(_plain({"event": event, **fields}), ensure_ascii=False,
                          allow_nan=False, default=str)
        self.out.write(line + "\n")
        self.out.flush()

    def progress(self, p: TrainProgress) -> None:
        """A ``ProgressCallback``: one line per training step."""
        self.emit("progress", step=p.step, steps=p.steps, loss=p.loss, epsilon=p.epsilon,
                  tokens=p.tokens, seconds=round(p.seconds, 2))

    def log(self, message: str) -> None:
        self.emit("log", message=message)

    def done(self, outcome: dict) -> None:
        self.emit("done", **outcome)

    def error(self, message: str) -> None:
        self.emit("error", message=message)
