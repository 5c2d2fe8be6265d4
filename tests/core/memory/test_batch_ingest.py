"""Batch ingest (core/memory/batch.py through core/ingest.py, what `persona ingest` and the
app's import call): the same rows as one add() per memory, dedup, bad files, cancel.
Real embedder, real LanceDB, real emotion tagger; nothing is mocked."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from persona.core.ingest import ingest_paths
from persona.core.memory import rows
from persona.core.memory.batch import BatchWriter
from persona.core.memory.ingest import read_text_memories
from persona.core.memory.schema import Memory
from persona.core.memory.store import MemoryStore
from persona.core.pipeline import Pipeline

pytestmark = pytest.mark.slow

NOTES = ["I walked to the harbour with Ana this morning.",
         "Grandma's soup was too salty, but I loved it!",
         "Worried about the exam on Friday; I could not sleep.",
         "Teo fixed my bicycle and we went for a long ride.",
         "A calm evening with tea and a book by the window.",
         "My boss shouted at me in the meeting and I was furious."]


def _notes(folder, texts=NOTES):
    folder.mkdir(exist_ok=True)
    for i, text in enumerate(texts):
        (folder / f"{i:02}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def _pipe(home, embedder) -> Pipeline:
    pipe = Pipeline(home)
    pipe.__dict__["embedder"] = embedder  # the session's loaded model, not a second copy
    return pipe


def _rows(store) -> dict[str, dict]:
    table = store.table.search().select([*rows.COLUMNS, "vector"]).limit(None).to_arrow()
    return {r["id"]: r for r in table.to_pylist()}


def test_batches_store_the_same_rows_as_one_add_per_memory(tmp_path, embedder):
    memories = [Memory(t, source="import", emotion="happy" if "!" in t else "neutral",
                       valence=0.5, arousal=0.25, emotion_confidence=0.75, origin=f"/n/{i}")
                for i, t in enumerate(NOTES)]
    one_by_one = MemoryStore(tmp_path / "single.lancedb", embedder)
    for m in copy.deepcopy(memories):
        one_by_one.add(m)
    batched = MemoryStore(tmp_path / "batched.lancedb", embedder)
    writer = BatchWriter(batched, first=2, most=4)
    for i, m in enumerate(copy.deepcopy(memories)):
        writer.add(f"file{i}", [m])
    out = writer.close()
    assert out.ids == [m.id for m in memories] and out.stored == len(NOTES)
    single, batch = _rows(one_by_one), _rows(batched)
    assert set(single) == set(batch) == {m.id for m in memories}
    for memory_id, row in single.items():
        other = batch[memory_id]
        assert {k: v for k, v in row.items() if k != "vector"} == \
               {k: v for k, v in other.items() if k != "vector"}
        # Padding a text in a batch moves its vector by float rounding only.
        assert np.allclose(row["vector"], other["vector"], atol=1e-5)


def test_ingest_tags_and_stores_like_the_one_by_one_path(home, tmp_path, embedder):
    notes = _notes(tmp_path / "notes")
    pipe = _pipe(home, embedder)
    summary = ingest_paths(pipe, [notes])
    assert (summary.files, summary.stored, summary.duplicates, summary.errors) == \
        (len(NOTES), len(NOTES), 0, [])
    stored = {m.text: m for m in pipe.store.all_memories()}
    single = MemoryStore(tmp_path / "single.lancedb", embedder)
    for path in sorted(notes.iterdir()):
        for m in read_text_memories(path):
            tag = pipe.tagger.tag(m.text)
            m.emotion, m.valence, m.arousal = tag.label, tag.valence, tag.arousal
            m.emotion_confidence = tag.confidence
            single.add(m)
            got = stored[m.text]
            assert (got.source, got.origin, got.speaker) == ("import", str(path.resolve()),
                                                              "person")
            assert got.emotion == m.emotion and got.valence == pytest.approx(m.valence)
            assert got.emotion_confidence == pytest.approx(m.emotion_confidence)
    assert {m.emotion for m in stored.values()} >= {"angry", "anxious"}  # really tagged
    by_text = {r["text"]: r["vector"] for r in _rows(single).values()}
    for r in _rows(pipe.store).values():
        assert np.allclose(r["vector"], by_text[r["text"]], atol=1e-5)


def test_duplicates_within_a_batch_and_against_the_store_are_skipped(home, tmp_path,
                                                                       embedder):
    pipe = _pipe(home, embedder)
    pipe.store.add(Memory(NOTES[0]))
    texts = [NOTES[0], NOTES[1], "  " + NOTES[1].upper() + "  ", NOTES[2]]
    summary = ingest_paths(pipe, [_notes(tmp_path / "notes", texts)])
    assert (summary.stored, summary.duplicates, summary.files) == (2, 2, 4)
    assert pipe.store.count() == 3
    again = ingest_paths(pipe, [tmp_path / "notes"])
    assert (again.stored, again.duplicates) == (0, 4) and pipe.store.count() == 3


def test_bad_files_get_a_clear_error_each_and_the_rest_is_stored(home, tmp_path, embedder):
    notes = _notes(tmp_path / "notes")
    (notes / "latin1.txt").write_bytes("Caf\xe9 com a av\xf3.".encode("latin-1"))
    (notes / "binary.md").write_bytes(b"abc\x00\x00\x01def")
    (notes / "empty.txt").write_text("   \n", encoding="utf-8")
    pipe = _pipe(home, embedder)
    summary = ingest_paths(pipe, [notes, tmp_path / "missing.txt"])
    assert summary.stored == summary.files == len(NOTES) == pipe.store.count()
    errors = {name.rsplit("/", 1)[-1]: why for name, why in summary.errors}
    assert set(errors) == {"latin1.txt", "binary.md", "empty.txt", "missing.txt"}
    assert "not UTF-8" in errors["latin1.txt"] and "iconv" in errors["latin1.txt"]
    assert "NUL" in errors["binary.md"] and "no text" in errors["empty.txt"]
    assert "4 file(s) failed" in summary.describe()


def test_a_cancel_during_a_batch_keeps_the_committed_ones_and_writes_nothing_more(
        home, tmp_path, embedder):
    notes = _notes(tmp_path / "notes", [f"{t} (day {i})" for i, t in enumerate(NOTES * 2)])
    pipe = _pipe(home, embedder)
    pipe.store.add(Memory("Something from before."))
    encodes, stop = [], []

    class Embedder:  # the real one, noting when the second batch is being embedded
        def __getattr__(self, name):
            return getattr(embedder, name)

        def encode(self, texts):
            encodes.append(len(texts))
            if len(encodes) == 2:
                stop.append(True)  # Cancel pressed while the second batch is embedded
            return embedder.encode(texts)

    pipe.store.embedder = Embedder()
    summary = ingest_paths(pipe, [notes], should_stop=lambda: bool(stop), batch_size=4)
    assert encodes == [4, 4]  # the second batch was embedded, then not written
    assert summary.stopped and summary.files == summary.stored == 4
    assert summary.skipped == 2 * len(NOTES) - 4
    assert summary.imported == [str(notes / f"{i:02}.txt") for i in range(4)]
    assert pipe.store.count() == 5  # what was there, and the first batch
    assert "Stopped; 8 file(s) not imported" in summary.describe()


def test_add_with_proceed_false_writes_nothing(store):
    store.add(Memory("Already here."))
    before = (store.count(), store.versions())
    result = store.add([Memory("Not written."), Memory("Nor this.")], proceed=lambda: False)
    assert result.cancelled and result.ids == []
    assert (store.count(), store.versions()) == before
