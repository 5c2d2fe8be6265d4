"""An import can be stopped; it keeps what was committed and reports what was not imported."""

from __future__ import annotations

from persona.core.ingest import ingest_paths
from persona.core.pipeline import Pipeline


def test_should_stop_ends_the_import_after_the_committed_batches(home, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    for i in range(6):
        (notes / f"{i}.txt").write_text(f"Note number {i}: I walked to the harbour today.")
    pipe = Pipeline(home)
    seen = []

    def stop_once_something_is_in() -> bool:  # Cancel pressed after the first progress
        return bool(seen) and seen[-1][0] > 0

    summary = ingest_paths(pipe, [notes], progress=lambda d, t: seen.append((d, t)),
                           should_stop=stop_once_something_is_in, batch_size=2)
    assert seen == [(2, 6)]  # one batch of two files, then the stop
    assert summary.stopped and summary.skipped == 4
    assert summary.imported == [str(notes / "0.txt"), str(notes / "1.txt")]
    assert summary.files == summary.stored == pipe.store.count() == 2
    assert summary.to_dict()["stopped"] is True
    assert "Stopped; 4 file(s) not imported" in summary.describe()
