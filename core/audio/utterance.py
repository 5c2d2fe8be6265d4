"""The unit that flows through the pipeline: one recording of the person speaking."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16_000  # every stage after capture works on 16 kHz mono float32


@dataclass
class Utterance:
    """Mono float32 audio in [-1, 1] at ``sample_rate`` Hz."""

    audio: np.ndarray
    sample_rate: int = SAMPLE_RATE
    source: str = "voice"  # "voice" (microphone) or "file"
    path: str | None = None  # the file it came from, if any
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return float(len(self.audio)) / float(self.sample_rate)
