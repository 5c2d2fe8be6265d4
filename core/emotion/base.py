"""The emotion-tagging protocol, so that a stronger speech-emotion model can be plugged in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass

from persona.core.asr.base import Transcript
from persona.core.audio.utterance import Utterance

LABELS = ("neutral", "happy", "sad", "angry", "anxious", "calm", "excited")


@dataclass(frozen=True)
class EmotionTag:
    label: str  # one of LABELS
    valence: float  # -1 (negative) .. 1 (positive)
    arousal: float  # 0 (sleepy, quiet) .. 1 (agitated, loud)
    confidence: float  # 0 .. 1
    method: str = "text"  # "text", "voice+text", or the plugged-in model's name

    def __post_init__(self) -> None:
        assert self.label in LABELS, self.label
        assert -1.0 <= self.valence <= 1.0 and 0.0 <= self.arousal <= 1.0

    def to_dict(self) -> dict:
        return asdict(self)


class EmotionTagger(ABC):
    """Tags a memory with an emotion from its words and, when there is one, its voice."""

    name: str = "emotion"

    @abstractmethod
    def tag(self, text: str, utterance: Utterance | None = None,
            transcript: Transcript | None = None) -> EmotionTag:
        """``utterance`` and ``transcript`` are None for text-only memories."""
