"""Retention settings: expired recordings and spoken memories go when the store opens."""

from __future__ import annotations

from datetime import timedelta

import yaml

from persona.core.memory.schema import Memory, now_utc
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings, load_settings
from persona.privacy.forgotten import read_forgotten


def _pipe(home, embedder, **settings) -> Pipeline:
    p = Pipeline(home, settings=Settings(**settings))
    p.__dict__["embedder"] = embedder
    return p


def _voice(home, text: str, days_old: float) -> Memory:
    m = Memory(text=text, source="voice", ts=now_utc() - timedelta(days=days_old))
    m.audio_path = f"{m.id}.wav"
    (home / "audio").mkdir(parents=True, exist_ok=True)
    (home / "audio" / m.audio_path).write_bytes(b"RIFF test clip")
    return m


def test_recordings_older_than_the_setting_are_deleted_when_the_store_opens(tmp_path, embedder):
    home = tmp_path / "home"
    setup = _pipe(home, embedder, keep_recordings_days=None)  # forever: the sweep keeps all
    old, new = _voice(home, "An old voice note about the harbour.", 10), _voice(
        home, "A new voice note about the bakery.", 1)
    setup.store.add([old, new])
    assert setup.store.get(old.id).audio_path == old.audio_path

    pipe = _pipe(home, embedder, keep_recordings_days=7)
    assert pipe.store.get(old.id).audio_path is None  # the store opened: swept
    assert not (home / "audio" / old.audio_path).exists()
    assert pipe.store.get(old.id).text == old.text  # the words stay
    assert pipe.store.get(new.id).audio_path == new.audio_path
    assert (home / "audio" / new.audio_path).exists()

    pipe = _pipe(home, embedder)  # the default, 0: none kept once transcribed
    assert pipe.settings.keep_recordings is False
    assert pipe.store.get(new.id).audio_path is None and list((home / "audio").iterdir()) == []


def test_spoken_memories_older_than_keep_transcripts_days_are_forgotten(tmp_path, embedder):
    home = tmp_path / "home"
    setup = _pipe(home, embedder, keep_recordings_days=None)
    old = _voice(home, "Spoken long ago: the plumber comes on Friday.", 40)
    chat = Memory(text="What did the plumber say?", source="chat", conversation_id="c",
                  ts=now_utc() - timedelta(days=40))
    note = Memory(text="Typed long ago: my shoe size is 43.", ts=now_utc() - timedelta(days=40))
    fresh = _voice(home, "Spoken today: buy more coffee.", 0)
    setup.store.add([old, chat, note, fresh])

    pipe = _pipe(home, embedder, keep_recordings_days=None, keep_transcripts_days=30)
    left = {m.id for m in pipe.store.all_memories()}
    assert left == {note.id, fresh.id}
    assert {old.id, chat.id} <= read_forgotten(home / "privacy")
    assert not (home / "audio" / old.audio_path).exists()


def test_an_old_settings_file_with_keep_recordings_still_loads(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"keep_recordings": True, "tts_rate": 150}))
    s = load_settings(path)
    assert s.keep_recordings_days is None and s.keep_recordings and s.tts_rate == 150
    path.write_text(yaml.safe_dump({"keep_recordings": False}))
    assert load_settings(path).keep_recordings_days == 0
    assert Settings().keep_recordings_days == 0 and "keep_recordings" not in Settings().model_dump()
