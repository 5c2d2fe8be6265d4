"""`--progress-jsonl`: one strict JSON object per line, inf and nan written plainly."""

from __future__ import annotations

import io
import json
import math

from persona.core.train.config import TrainProgress
from persona.core.train.events import JsonlEvents


def test_events_are_strict_json_lines():
    out = io.StringIO()
    events = JsonlEvents(out)
    events.progress(TrainProgress(step=1, steps=4, loss=math.nan, epsilon=math.inf, tokens=0,
                                  seconds=0.5))
    events.log("Resuming the interrupted run")
    events.done({"steps_done": 4, "epsilon": 1.5, "perplexities": [math.inf, 2.0]})
    events.error("there is nothing to train on yet")
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0] == {"event": "progress", "step": 1, "steps": 4, "loss": None,
                       "epsilon": "inf", "tokens": 0, "seconds": 0.5}
    assert rows[1] == {"event": "log", "message": "Resuming the interrupted run"}
    assert rows[2] == {"event": "done", "steps_done": 4, "epsilon": 1.5,
                       "perplexities": ["inf", 2.0]}
    assert rows[3] == {"event": "error", "message": "there is nothing to train on yet"}
