"""The speech-out protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path


class Speaker(ABC):
    """Turns text into speech, aloud or into a WAV file."""

    name: str = "tts"

    @abstractmethod
    def say(self, text: str) -> None:
        """Speak ``text`` through the default output device and return when done."""

    @abstractmethod
    def to_wav(self, text: str, path: Path) -> Path:
        """Write ``text`` as speech to a WAV file at ``path`` and return the path."""

    def voices(self) -> list[str]:
        return []
