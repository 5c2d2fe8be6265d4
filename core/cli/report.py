"""How results look on a terminal and in ``--json`` output (one place for both)."""

from __future__ import annotations

import json
import sys
from typing import Any

from persona.core.asr.base import Transcript
from persona.core.emotion.base import EmotionTag
from persona.core.memory.schema import Hit, Memory


def emit_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def emotion_dict(tag: EmotionTag | None) -> dict | None:
    if tag is None:
        return None
    return {"label": tag.label, "valence": round(tag.valence, 3),
            "arousal": round(tag.arousal, 3), "confidence": round(tag.confidence, 3),
            "method": tag.method}


def emotion_line(tag: EmotionTag) -> str:
    return (f"{tag.label} (valence {tag.valence:+.2f}, arousal {tag.arousal:.2f}, "
            f"confidence {tag.confidence:.2f}, from {tag.method})")


def memory_dict(m: Memory) -> dict:
    return {"id": m.id, "ts": m.ts.isoformat(timespec="seconds"), "source": m.source,
            "speaker": m.speaker, "text": m.text, "emotion": m.emotion,
            "valence": round(float(m.valence), 3), "arousal": round(float(m.arousal), 3),
            "audio_path": m.audio_path, "origin": m.origin}


def hit_dict(h: Hit) -> dict:
    return {**memory_dict(h.memory), "score": round(float(h.score), 4)}


def memory_line(m: Memory, score: float | None = None) -> str:
    head = f"{m.ts:%Y-%m-%d %H:%M}  {m.source:<6} {m.emotion:<8}"
    if score is not None:
        head = f"{score:6.3f}  " + head
    return f"{head} {m.id[:12]}  {m.text}"


def transcript_dict(t: Transcript) -> dict:
    return {"text": t.text, "duration": round(t.duration, 3),
            "speaking_rate": None if t.speaking_rate is None else round(t.speaking_rate, 2),
            "words": [{"word": w.word, "start": round(w.start, 2), "end": round(w.end, 2)}
                      for w in t.words]}


def info(msg: str) -> None:
    """Progress and status go to stderr, so stdout stays clean for --json."""
    print(msg, file=sys.stderr, flush=True)
