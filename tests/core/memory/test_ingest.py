"""Importing .txt/.md notes into a real store: dates, encodings, bad files, progress."""

from __future__ import annotations

from datetime import date

import pytest

from persona.core.errors import TextError
from persona.core.memory.ingest import ingest_text_files, read_text, read_text_memories
from persona.core.memory.schema import Memory

pytestmark = pytest.mark.slow

DIARY = """\
# My diary

## 2026-03-14
Went to the harbour with Ana. We ate grilled sardines and laughed a lot.

## March 15, 2026
Rainy day. I practised the cello for two hours and my fingers hurt.

## Ideas
Maybe learn Japanese this year.
"""


@pytest.fixture
def diary(tmp_path):
    path = tmp_path / "diary.md"
    path.write_text(DIARY, encoding="utf-8")
    return path


def _state(store):
    return store.count(), store.versions()


def test_a_markdown_diary_is_stored_with_its_dates(store, diary):
    report = ingest_text_files(store, [diary])
    assert (report.files, report.chunks, report.stored, report.duplicates) == (1, 3, 3, 0)
    assert report.errors == []
    by_text = {m.text: m for m in store.all_memories()}
    harbour = by_text["Went to the harbour with Ana. We ate grilled sardines and laughed a lot."]
    assert harbour.ts.astimezone().date() == date(2026, 3, 14)
    assert harbour.source == "import" and harbour.origin == str(diary.resolve())
    cello = by_text["Rainy day. I practised the cello for two hours and my fingers hurt."]
    assert cello.ts.astimezone().date() == date(2026, 3, 15)
    undated = by_text["Maybe learn Japanese this year."]
    assert undated.ts > cello.ts  # no date heading: stored as of now
    hit = store.search("what instrument did I play on the rainy day?", 1)[0]
    assert hit.memory.text == cello.text


def test_importing_the_same_file_again_stores_nothing_new(store, diary):
    ingest_text_files(store, [diary])
    again = ingest_text_files(store, [diary])
    assert (again.stored, again.duplicates) == (0, 3)
    assert store.count() == 3


def test_a_non_utf8_file_is_refused_with_a_fix_and_stores_nothing(store, tmp_path):
    store.add(Memory("Something stored before."))
    latin1 = tmp_path / "notes.txt"
    latin1.write_bytes("Fui ao café com a avó, que alegria.".encode("latin-1"))
    before = _state(store)
    with pytest.raises(TextError, match=r"notes\.txt is not UTF-8.*iconv"):
        read_text_memories(latin1)
    report = ingest_text_files(store, [latin1])
    assert report.stored == 0 and len(report.errors) == 1
    assert "notes.txt" in report.errors[0].path and "iconv" in report.errors[0].error
    assert _state(store) == before


def test_in_a_batch_a_bad_file_is_skipped_and_the_others_go_in(store, tmp_path, diary):
    bad = tmp_path / "old.txt"
    bad.write_bytes(b"caf\xe9 au lait")
    empty = tmp_path / "empty.md"
    empty.write_text("# Only a title\n", encoding="utf-8")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    report = ingest_text_files(store, [bad, diary, empty, photo, tmp_path / "missing.txt"])
    assert report.files == 1 and report.stored == 3
    failed = {e.path.rsplit("/", 1)[-1]: e.error for e in report.errors}
    assert set(failed) == {"old.txt", "empty.md", "photo.jpg", "missing.txt"}
    assert "UTF-8" in failed["old.txt"] and "no text" in failed["empty.md"]


def test_with_skip_bad_off_a_bad_file_stops_everything(store, tmp_path, diary):
    bad = tmp_path / "old.txt"
    bad.write_bytes(b"caf\xe9 au lait")
    with pytest.raises(TextError, match="old.txt"):
        ingest_text_files(store, [diary, bad], skip_bad=False)
    assert store.count() == 0


def test_folders_are_walked_and_progress_is_reported(store, tmp_path):
    notes = tmp_path / "notes"
    (notes / "2025").mkdir(parents=True)
    (notes / ".hidden").mkdir()
    for i in range(5):
        (notes / "2025" / f"day{i}.txt").write_text(
            f"Day {i}. I walked {i + 2} kilometres along the river. The weather was "
            f"{'sunny' if i % 2 else 'grey'}.", encoding="utf-8")
    (notes / ".hidden" / "secret.txt").write_text("Not imported.", encoding="utf-8")
    (notes / "readme.rst").write_text("Not a note type.", encoding="utf-8")
    calls = []
    report = ingest_text_files(store, [notes], progress=lambda d, t: calls.append((d, t)),
                               batch_size=4)
    assert report.files == 5 and report.stored == report.chunks == 5
    assert calls == [(0, 5), (4, 5), (5, 5)]
    assert all("Not imported" not in m.text for m in store.all_memories())


def test_annotate_fills_memories_before_they_are_stored(store, diary):
    def tag(m: Memory) -> Memory:
        m.emotion = "happy" if "laughed" in m.text else "neutral"
        return m

    ingest_text_files(store, [diary], annotate=tag)
    emotions = {m.text[:10]: m.emotion for m in store.all_memories()}
    assert emotions["Went to th"] == "happy" and emotions["Rainy day."] == "neutral"


def test_read_text_accepts_a_bom_and_refuses_binary(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffOlá".encode())
    assert read_text(bom) == "Olá"
    binary = tmp_path / "data.txt"
    binary.write_bytes(b"abc\x00\x00def")
    with pytest.raises(TextError, match="NUL"):
        read_text(binary)
    with pytest.raises(TextError, match="Cannot read"):
        read_text(tmp_path / "nope.txt")
