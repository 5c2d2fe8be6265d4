"""An import can be stopped between files; it reports what went in."""

from __future__ import annotations

from persona.core.pipeline import Pipeline


def test_should_stop_ends_the_import_between_files(home, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    for i in range(4):
        (notes / f"{i}.txt").write_text(f"Note number {i}: I walked to the harbour today.")
    pipe = Pipeline(home)
    asked = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    summary = pipe.ingest([notes], should_stop=stop_after_two)
    assert summary.stopped and summary.skipped == 2
    assert summary.imported == [str(notes / "0.txt"), str(notes / "1.txt")]
    assert pipe.store.count() == 2
    assert summary.to_dict()["stopped"] is True
    assert "Stopped; 2 file(s) not imported" in summary.describe()
