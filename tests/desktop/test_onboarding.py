"""First-run onboarding over a real, empty home: the marker, importing the person's own
files with progress and Cancel, and an unreadable file reported without harm."""

from __future__ import annotations

import stat

import pytest
from PySide6.QtCore import Qt

from persona.core.paths import Home
from persona.desktop.context import AppContext
from persona.desktop.controllers.onboarding_controller import OnboardingController, needs_onboarding
from persona.desktop.views.onboarding_view import OnboardingView


@pytest.fixture
def onboarding(qtbot, home):
    from PySide6.QtCore import QThreadPool

    ctx = AppContext(Home.resolve(home))
    view = OnboardingView()
    qtbot.addWidget(view)
    controller = OnboardingController(ctx, view)
    view.show()
    yield ctx, view, controller
    controller.mic.shutdown()
    QThreadPool.globalInstance().waitForDone(60_000)


def test_first_run_is_shown_once_and_skip_marks_the_home(onboarding, qtbot):
    ctx, view, _ = onboarding
    assert needs_onboarding(ctx)
    qtbot.mouseClick(view.next, Qt.MouseButton.LeftButton)
    assert view.title.text() == "Your microphone"
    qtbot.mouseClick(view.skip, Qt.MouseButton.LeftButton)
    marker = ctx.home.root / "onboarded"
    assert marker.exists() and stat.S_IMODE(marker.stat().st_mode) == 0o600
    assert not needs_onboarding(ctx)
    assert not ctx.home.memory_dir.exists() or ctx.pipeline.store.count() == 0  # no sample


def test_a_home_with_memories_needs_no_onboarding(sample_home):
    (sample_home / "onboarded").unlink()
    assert not needs_onboarding(AppContext(Home.resolve(sample_home)))


def test_an_unreadable_file_is_reported_and_the_others_go_in(onboarding, qtbot, tmp_path):
    ctx, view, controller = onboarding
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.md").write_text("I planted tulips in the garden on Sunday.\n")
    (notes / "broken.txt").write_bytes(b"\xff\xfe\x00garbage\x00\x9c not text")
    view.go(2)
    view.add_paths([str(notes)])
    with qtbot.waitSignal(ctx.error, timeout=60_000) as blocker:
        qtbot.mouseClick(view.import_button, Qt.MouseButton.LeftButton)
    title, message = blocker.args
    assert "could not be imported" in title and "broken.txt" in message
    qtbot.waitUntil(lambda: controller.task is None)
    assert "broken.txt" in view.result.text() and "1 memories from 1 file(s)" in \
        view.result.text()
    origins = {m.origin for m in ctx.pipeline.store.all_memories()}
    assert origins == {str(notes / "good.md")}  # nothing at all from the broken file


def test_import_shows_progress_and_cancel_stops_between_files(onboarding, qtbot, tmp_path):
    ctx, view, controller = onboarding
    notes = tmp_path / "diary"
    notes.mkdir()
    n = 60
    for i in range(n):
        (notes / f"{i:03}.txt").write_text(f"Day {i}: I swam {i} lengths at the pool today.\n")
    view.go(2)
    view.add_paths([str(notes)])
    seen = []
    qtbot.mouseClick(view.import_button, Qt.MouseButton.LeftButton)
    assert view.cancel_import.isVisible() and not view.next.isEnabled()
    controller.task.signals.progress.connect(lambda d, t, _x: seen.append((d, t)))
    qtbot.waitUntil(lambda: bool(seen), timeout=60_000)
    qtbot.mouseClick(view.cancel_import, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.task is None, timeout=60_000)
    summary = controller.summary
    assert seen[0][1] == n and view.progress.maximum() == n
    assert summary.stopped and 0 < summary.files < n
    assert summary.files + summary.skipped == n
    assert ctx.pipeline.store.count() == summary.stored == summary.files
    assert "Stopped." in view.result.text() and view.next.isEnabled()
    qtbot.mouseClick(view.next, Qt.MouseButton.LeftButton)  # Finish
    assert (ctx.home.root / "onboarded").exists() and not view.isVisible()


def test_finish_imports_the_chosen_files_first_then_closes(onboarding, qtbot, tmp_path):
    ctx, view, controller = onboarding
    notes = tmp_path / "diary.md"
    notes.write_text("I planted tulips in the garden on Sunday.\n\nMy brother visited today.\n")
    view.go(2)
    view.add_paths([str(notes)])
    assert view.next.text() == "Finish"
    qtbot.mouseClick(view.next, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=60_000)
    assert controller.summary is not None and controller.summary.stored >= 1
    assert ctx.pipeline.store.count() == controller.summary.stored
    assert (ctx.home.root / "onboarded").exists()
