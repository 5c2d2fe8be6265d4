"""The speech-to-text protocol: one small subclass per engine."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from persona.core.audio.utterance import Utterance


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the utterance
    end: float
    probability: float = 1.0


@dataclass
class Transcript:
    text: str
    words: list[Word] = field(default_factory=list)
    language: str = "en"
    duration: float = 0.0  # seconds of audio
    speech_duration: float = 0.0  # seconds the VAD kept as speech

    @property
    def speaking_rate(self) -> float | None:
        """Words per second of speech, from the word timings (None without words)."""
        if not self.words:
            return None
        span = self.words[-1].end - self.words[0].start
        return len(self.words) / span if span > 0 else None


class Transcriber(ABC):
    """Turns an utterance into text with word timings."""

    name: str = "transcriber"

    @abstractmethod
    def transcribe(self, utterance: Utterance) -> Transcript:
        """Raise ``core.errors.AudioError`` when nothing intelligible was said."""
