"""Retention: recordings and spoken words are kept only as long as the person chose.

- ``keep_recordings_days`` (default 0): a voice memory's WAV is deleted once it is older than
  that many days and the memory's ``audio_path`` cleared; with 0 no WAV is saved at all
  (the words and the emotion tag are taken from it first), so the sweep only removes WAVs
  kept under an earlier setting. ``None`` keeps them forever.
- ``keep_transcripts_days`` (default None = forever): voice memories and talk turns (sources
  "voice" and "chat") older than that are forgotten entirely, as by `persona forget`
  (core.memory.forget). Typed notes and imported files are the person's own documents and
  are kept.

The sweep runs when a pipeline opens its store (the app and every `persona` command that
reads memories) and before every training run. It is cheap when nothing has expired: one
filtered count per rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from persona.core.memory import rows
from persona.core.memory.schema import now_utc

log = logging.getLogger(__name__)

SPOKEN = ("voice", "chat")


@dataclass
class SweepResult:
    recordings_deleted: int = 0
    transcripts_forgotten: int = 0


def _before(cutoff: datetime) -> str:
    return f"ts < TIMESTAMP '{cutoff.astimezone().isoformat()}'"


def sweep(home, store, settings, *, now: datetime | None = None) -> SweepResult:
    """Apply the retention settings to ``store`` (a MemoryStore) in ``home``."""
    result = SweepResult()
    tbl = store.table
    if tbl is None:
        return result
    now = now or now_utc()
    days = settings.keep_recordings_days
    if days is not None:
        where = f"audio_path IS NOT NULL AND {_before(now - timedelta(days=days))}"
        if tbl.count_rows(where):
            found = tbl.search().where(where).select(["id", "audio_path"]).limit(None)
            found = found.to_arrow()
            for name in found["audio_path"].to_pylist():
                clip = home.audio_dir / name
                if clip.is_file():
                    clip.unlink()
                    result.recordings_deleted += 1
            store.clear_audio_paths(found["id"].to_pylist())
    days = settings.keep_transcripts_days
    if days is not None:
        spoken = ", ".join(rows.sql_str(s) for s in SPOKEN)
        where = f"source IN ({spoken}) AND {_before(now - timedelta(days=days))}"
        if tbl.count_rows(where):
            from persona.core.memory.forget import forget_memories

            ids = tbl.search().where(where).select(["id"]).limit(None).to_arrow()
            report = forget_memories(home, store, ids["id"].to_pylist())
            result.transcripts_forgotten = len(report.forgotten)
    if result.recordings_deleted or result.transcripts_forgotten:
        log.info("retention: %d recordings deleted, %d spoken memories forgotten",
                 result.recordings_deleted, result.transcripts_forgotten)
    return result


def sweep_quietly(home, store, settings) -> SweepResult | None:
    """``sweep``, but a failure is logged, not raised: opening the store must still work
    (the next open tries again)."""
    from persona.core.errors import PersonaError

    try:
        return sweep(home, store, settings)
    except (PersonaError, OSError, RuntimeError, ValueError) as exc:
        log.warning("the retention sweep did not run this time: %s", exc)
        return None
