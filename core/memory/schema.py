"""What one memory is, in Python and in LanceDB."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa

SOURCES = ("voice", "text", "import", "chat")
SPEAKERS = ("person", "assistant")


def text_hash(text: str) -> str:
    """Identity of a text for dedupe: whitespace-folded, case-folded."""
    norm = " ".join(text.split()).casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:32]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Memory:
    text: str
    source: str = "text"  # one of SOURCES
    ts: datetime = field(default_factory=now_utc)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    emotion: str = "neutral"
    valence: float = 0.0
    arousal: float = 0.0
    emotion_confidence: float = 0.0
    speaker: str = "person"  # chat turns: who said it; the assistant's words are never trained on
    conversation_id: str | None = None  # groups chat turns
    audio_path: str | None = None  # relative to the home's audio folder
    origin: str | None = None  # file an imported chunk came from

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {self.source!r}")
        if self.speaker not in SPEAKERS:
            raise ValueError(f"speaker must be one of {SPEAKERS}, not {self.speaker!r}")
        if self.ts.tzinfo is None:
            self.ts = self.ts.replace(tzinfo=timezone.utc)

    @property
    def hash(self) -> str:
        """Identity for dedupe. The assistant's words are hashed apart from the person's: a
        reply that repeats what the person just said must not make their words a duplicate
        (and so go unstored)."""
        if self.speaker == "assistant":
            return text_hash("assistant: " + self.text)
        return text_hash(self.text)


@dataclass
class Hit:
    """A memory found by retrieval, with its fused score."""

    memory: Memory
    score: float


def arrow_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("speaker", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("text_hash", pa.string(), nullable=False),
        pa.field("emotion", pa.string(), nullable=False),
        pa.field("valence", pa.float32(), nullable=False),
        pa.field("arousal", pa.float32(), nullable=False),
        pa.field("emotion_confidence", pa.float32(), nullable=False),
        pa.field("conversation_id", pa.string()),
        pa.field("audio_path", pa.string()),
        pa.field("origin", pa.string()),
        pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
    ])
