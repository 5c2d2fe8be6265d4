"""Memories that arrive together are stored in one add: a typed turn and its reply, the
pieces of an imported recording. Real store, embedder, tagger, Whisper and recordings."""

from __future__ import annotations

import pytest

from persona.core.audio.io import load_utterance
from persona.core.errors import ModelError
from persona.core.memory.schema import Memory
from persona.core.pipeline import Pipeline
from persona.core.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def pipe(tmp_path):
    # Recordings kept (the default keeps none once transcribed: keep_recordings_days 0).
    p = Pipeline(tmp_path / "home", settings=Settings(keep_recordings_days=None))
    p.remember_text("My sister Ana lives in Lisbon and works as a nurse.")
    return p


@pytest.fixture
def adds(pipe, monkeypatch):
    """The batches given to the real ``MemoryStore.add``, as lists of texts."""
    seen: list[list[str]] = []
    real = pipe.store.add

    def spy(memories, **kw):
        seen.append([m.text for m in ([memories] if isinstance(memories, Memory)
                                      else memories)])
        return real(memories, **kw)

    monkeypatch.setattr(pipe.store, "add", spy)
    return seen


def test_a_typed_turn_and_its_reply_are_stored_in_one_add(pipe, adds):
    before = pipe.store.count()
    reply = pipe.reply("Where does my sister live?")
    assert reply.text and any("Lisbon" in h.memory.text for h in reply.hits)
    assert adds == [["Where does my sister live?", reply.text]]
    assert pipe.store.count() == before + 2
    turns = pipe.store.list(limit=2, source="chat")
    assert {m.speaker for m in turns} == {"person", "assistant"}
    assert len({m.conversation_id for m in turns}) == 1


def test_the_question_is_stored_even_when_the_reply_fails(pipe, adds):
    class BrokenModel:  # a model that fails mid-reply cannot be made to fail for real here
        def stream_chat(self, messages, options):
            yield "Lis"
            raise ModelError("the language model stopped (test)")

    pipe.__dict__["llm"] = BrokenModel()
    with pytest.raises(ModelError, match="stopped"):
        pipe.reply("What does my sister do?")
    assert adds == [["What does my sister do?"]]
    stored = pipe.store.list(limit=1, source="chat")[0]
    assert (stored.text, stored.speaker) == ("What does my sister do?", "person")


def test_pieces_of_a_recording_go_in_one_add_and_duplicates_lose_their_wav(pipe, adds,
                                                                           speak):
    first = load_utterance(speak("I planted tulips in the garden on Sunday."))
    second = load_utterance(speak("My brother visited today."))
    again = Memory("My sister Ana lives in Lisbon and works as a nurse.", source="import")
    pieces = [Memory("I planted tulips in the garden on Sunday.", source="import"),
              again, Memory("My brother visited today.", source="import")]
    results = pipe._remember_all(list(zip(pieces, [first, second, first], strict=True)))
    assert len(adds) == 1 and len(adds[0]) == 3
    assert [r[1] for r in results] == [False, True, False]
    assert results[1][0] is None
    wavs = sorted(p.name for p in pipe.home.audio_dir.iterdir())
    assert wavs == sorted(f"{m.id}.wav" for m in (pieces[0], pieces[2]))
    assert pipe.recording(pipe.store.get(pieces[2].id)).is_file()


def test_an_imported_recording_is_transcribed_and_stored_with_its_wav(pipe, adds, speak,
                                                                      tmp_path):
    folder = tmp_path / "import"
    folder.mkdir()
    speak("I planted tulips in the garden on Sunday.").rename(folder / "garden.wav")
    (folder / "note.txt").write_text("My brother visited today.\n", encoding="utf-8")
    summary = pipe.ingest([folder])
    assert (summary.files, summary.stored, summary.errors) == (2, 2, [])
    assert len(adds) == 2  # the recording's pieces in one add, the note in its batch
    spoken = next(m for m in pipe.store.all_memories() if m.origin == str(folder /
                                                                          "garden.wav"))
    assert "tulips" in spoken.text.lower() and spoken.source == "import"
    assert pipe.recording(spoken).is_file()
