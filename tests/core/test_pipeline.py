"""The wired pipeline with its real parts: Whisper, the tagger, LanceDB, SmolLM2, espeak-ng."""

from __future__ import annotations

import time
import wave

import numpy as np
import pytest

from persona.core.audio.io import write_wav
from persona.core.errors import AudioError, StoreError, TextError
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    # Recordings kept (the default keeps none once transcribed: keep_recordings_days 0).
    p = Pipeline(tmp_path_factory.mktemp("home"), settings=Settings(keep_recordings_days=None))
    p.remember_text("My sister Ana lives in Lisbon and works as a nurse.")
    p.remember_text("I adopted a grey cat called Miso in January.")
    p.remember_text("On Thursdays I play the cello with my teacher Mr. Haugen.")
    return p


def _snapshot(pipe: Pipeline) -> tuple[int, list[str]]:
    return pipe.store.count(), sorted(p.name for p in pipe.home.audio_dir.iterdir())


def _words(text: str) -> set[str]:
    return {w.strip(".,!?").casefold() for w in text.split()}


def test_hear_a_file_stores_a_tagged_voice_memory_with_its_recording(pipe, speak):
    before, _ = _snapshot(pipe)
    heard = pipe.hear(speak("I finally finished painting the kitchen today"))
    assert {"painting", "kitchen", "today"} <= _words(heard.transcript.text)
    assert heard.memory is not None and heard.memory.source == "voice"
    assert heard.emotion.method == "voice+text"
    assert pipe.store.count() == before + 1
    assert (pipe.home.audio_dir / heard.memory.audio_path).exists()
    assert set(heard.timings) >= {"load", "asr", "emotion", "memory"}


def test_without_keep_recordings_a_heard_memory_is_stored_without_its_wav(pipe, speak):
    pipe.settings.keep_recordings = False
    try:
        before, clips = _snapshot(pipe)
        heard = pipe.hear(speak("The garden gate needs a new hinge"))
    finally:
        pipe.settings.keep_recordings = True
    assert {"garden", "gate"} <= _words(heard.transcript.text)
    assert heard.emotion.method == "voice+text"  # the voice still told the emotion
    assert heard.memory is not None and heard.memory.audio_path is None
    assert pipe.store.get(heard.memory.id).audio_path is None
    assert _snapshot(pipe) == (before + 1, clips)


def test_the_same_words_again_are_not_stored_twice(pipe, speak):
    wav = speak("The tomatoes on the balcony are ripe")
    pipe.hear(wav)
    before = _snapshot(pipe)
    again = pipe.hear(wav)
    assert again.duplicate and again.memory is None
    assert _snapshot(pipe) == before  # no second row and no orphaned recording


def _empty(path):
    path.write_bytes(b"")


def _silence(path):
    write_wav(path, np.zeros(16000 * 2, dtype=np.float32))


def _corrupt(path):
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)


def _header_only(path):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)


@pytest.mark.parametrize("make", [_empty, _silence, _corrupt, _header_only])
def test_bad_audio_is_a_clear_error_and_stores_nothing(pipe, tmp_path, make):
    path = tmp_path / f"{make.__name__}.wav"
    make(path)
    before = _snapshot(pipe)
    with pytest.raises(AudioError) as err:
        pipe.hear(path)
    assert str(err.value) and len(str(err.value)) > 20  # a sentence, not a code
    assert _snapshot(pipe) == before


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_clear_error_and_stores_nothing(pipe, text):
    before = _snapshot(pipe)
    with pytest.raises(TextError):
        pipe.remember_text(text)
    assert _snapshot(pipe) == before


def test_non_utf8_file_is_reported_and_stores_nothing(pipe, tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9 au lait every morning at the harbour.".encode("latin-1"))
    before = _snapshot(pipe)
    summary = pipe.ingest([bad])
    assert summary.stored == 0 and len(summary.errors) == 1
    assert "UTF-8" in str(summary.errors[0])
    assert _snapshot(pipe) == before


def test_retrieval_grounds_the_reply_and_turns_are_remembered(pipe):
    before = pipe.store.count()
    reply = pipe.reply("Where does my sister live?")
    assert any("Lisbon" in h.memory.text for h in reply.hits)
    assert reply.text
    assert pipe.store.count() == before + 2  # the question and the answer, as chat turns
    turns = pipe.store.list(limit=2, source="chat")
    assert {m.speaker for m in turns} == {"person", "assistant"}
    # The assistant's words are never retrieved as facts about the person.
    assert all(h.memory.speaker == "person" for h in pipe.search(reply.text, k=10))


def test_delete_forgets_the_memory_and_its_recording(pipe, speak):
    heard = pipe.hear(speak("My dentist appointment is on the ninth of May"))
    clip = pipe.home.audio_dir / heard.memory.audio_path
    pipe.delete_memory(heard.memory.id)
    assert not clip.exists()
    with pytest.raises(StoreError):
        pipe.delete_memory(heard.memory.id)


def test_a_component_is_built_once_when_threads_ask_at_once(tmp_path, monkeypatch):
    """The app records while Whisper loads on a worker: both threads must get one model."""
    import threading
    import time

    import persona.core.memory.embed as embed

    built = []
    real = embed.Embedder.from_settings

    def slow(settings):
        built.append(threading.get_ident())
        time.sleep(0.3)
        return real(settings)

    monkeypatch.setattr(embed.Embedder, "from_settings", staticmethod(slow))
    p = Pipeline(tmp_path / "home")
    got = []
    threads = [threading.Thread(target=lambda: got.append(p.embedder)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len({id(e) for e in got}) == 1
    p.__dict__.pop("embedder")  # dropping it rebuilds it on next use (the app's settings)
    assert p.embedder is not got[0] and len(built) == 2


def test_preload_builds_components_beside_the_caller_and_a_failure_is_raised_on_use(
        tmp_path, monkeypatch):
    """`persona ask` preloads the model and the store side by side (core/cli/commands.py)."""
    import threading

    import persona.core.memory.embed as embed
    from persona.core.errors import ModelError

    where, started, release = [], threading.Event(), threading.Event()
    real = embed.Embedder.from_settings

    def blocked(settings):  # holds the build until the test has gone on
        where.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        return real(settings)

    monkeypatch.setattr(embed.Embedder, "from_settings", staticmethod(blocked))
    p = Pipeline(tmp_path / "home")
    p.preload("embedder")
    assert started.wait(10) and "embedder" not in p.__dict__  # returned; the build goes on
    release.set()
    assert p.embedder is not None and where == ["persona-preload-embedder"]  # built once
    # ... and what encodes a question is loaded too (the numpy model for the bundled one).
    deadline = time.monotonic() + 30
    while p.embedder._numpy is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.embedder._numpy is not None

    def broken(settings):
        raise ModelError("no such model")

    monkeypatch.setattr(embed.Embedder, "from_settings", staticmethod(broken))
    q = Pipeline(tmp_path / "home2")
    q.preload("embedder")
    with pytest.raises(ModelError, match="no such model"):
        getattr(q, "embedder")  # noqa: B009 - the property's build raises
