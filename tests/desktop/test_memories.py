"""The Memories view over a real store: lazy pages, filters, search, edit, forget, charts."""

from __future__ import annotations

from datetime import date

import pytest
import soundfile as sf
from PySide6.QtCore import QDate, QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import QApplication

from persona.core.memory import browse
from persona.core.memory.schema import Memory
from persona.core.pipeline import Pipeline
from persona.desktop.models.memory_table import MemoryTableModel
from tests.conftest import espeak_wav
from tests.pulse import listening

WAIT = 30_000


def _open(make_window, home, qtbot):
    window = make_window(home, "memories")
    ctrl, view = window.controllers["memories"], window.views["memories"]
    qtbot.waitUntil(lambda: ctrl.model.total > 0 and not ctrl.model.busy, timeout=WAIT)
    return window, ctrl, view


def _select(view, row: int) -> None:
    view.table.selectionModel().select(
        view.table.model().index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)


def _click_row(qtbot, view, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A real mouse click on the row's text cell (Ctrl adds it to the selection)."""
    rect = view.table.visualRect(view.table.model().index(row, 3))
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def _answer_modal(qtbot, act) -> None:
    """Run ``act(dialog)`` on the next modal dialog once it is open (exec() blocks the test)."""
    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, poll)
        else:
            act(dialog)

    QTimer.singleShot(0, poll)


def test_model_fetches_rows_lazily_in_pages(sample_home, qtbot):
    store = Pipeline(sample_home).store
    n = store.count()  # 25, or a few more: tests/sample_home.py may add spare notes
    assert 20 < n < 50
    model = MemoryTableModel(lambda: store, page_size=10)
    model.set_filter(browse.BrowseFilter())
    qtbot.waitUntil(lambda: model.rowCount() == 10, timeout=WAIT)
    assert model.total == n and model.canFetchMore()
    model.fetchMore()
    assert not model.canFetchMore()  # one page at a time, while it is being read
    qtbot.waitUntil(lambda: model.rowCount() == 20, timeout=WAIT)
    while model.rowCount() < n:
        qtbot.waitUntil(model.canFetchMore, timeout=WAIT)
        rows = model.rowCount()
        model.fetchMore()
        qtbot.waitUntil(lambda r=rows: model.rowCount() == min(n, r + 10), timeout=WAIT)
    assert not model.canFetchMore()
    stamps = [model.memory(r).ts for r in range(n)]
    assert stamps == sorted(stamps, reverse=True)
    assert len({model.memory(r).id for r in range(n)}) == n


def test_filters_and_search(make_window, sample_home, qtbot):
    n = Pipeline(sample_home).store.count()  # 25, or more with spare notes (sample_home.py)
    _, ctrl, view = _open(make_window, sample_home, qtbot)
    assert view.count.text() == f"{n} memories"
    qtbot.waitUntil(lambda: view.emotion.findData("angry") >= 0, timeout=WAIT)
    view.emotion.setCurrentIndex(view.emotion.findData("angry"))
    qtbot.waitUntil(lambda: ctrl.model.total == 3 and not ctrl.model.busy, timeout=WAIT)
    assert {ctrl.model.memory(r).emotion for r in range(3)} == {"angry"}
    assert view.count.text() == "3 memories (filtered)"

    view.clear.click()
    view.search.setText("adopted a cat from the shelter")
    qtbot.waitUntil(lambda: bool(ctrl.model.query) and not ctrl.model.busy, timeout=WAIT)
    assert "Miso" in ctrl.model.memory(0).text
    assert "best matches" in view.count.text()

    view.search.clear()
    view.source.setCurrentIndex(view.source.findData("voice"))
    qtbot.waitUntil(lambda: view.list_stack.currentIndex() == 1, timeout=WAIT)
    assert "Nothing matches" in view.empty.text()


def test_forget_removes_the_row_the_memory_and_its_recording(make_window, sample_home, qtbot):
    pipe = Pipeline(sample_home)
    n = pipe.store.count()  # 25, or more with spare notes (tests/sample_home.py)
    clip = espeak_wav("the tide was very low this morning", pipe.home.audio_dir / "tide.wav")
    pipe.store.add(Memory("The tide was very low this morning", source="voice",
                          audio_path=clip.name))
    window, ctrl, view = _open(make_window, sample_home, qtbot)
    assert ctrl.model.total == n + 1 and ctrl.model.memory(0).audio_path == "tide.wav"
    _select(view, 0)
    assert view.play.isEnabled() and view.forget.isEnabled()
    seen = {}

    def confirm(box) -> None:
        seen["text"] = box.text() + box.informativeText()
        box.forget_button.click()

    _answer_modal(qtbot, confirm)
    view.table.setFocus()
    with qtbot.waitSignal(window.ctx.memories_changed, timeout=WAIT):
        qtbot.keyClick(view.table, Qt.Key.Key_Delete)  # Delete forgets, after confirmation
    assert "recording" in seen["text"] and "does not undo" in seen["text"]
    assert ctrl.model.total == n
    assert all(ctrl.model.memory(r).audio_path is None for r in range(ctrl.model.rowCount()))
    fresh = Pipeline(sample_home).store
    assert fresh.count() == n
    assert all("tide" not in h.memory.text for h in fresh.search("tide", 5, mode="fts"))
    assert not clip.exists()


def test_cancelled_forget_changes_nothing(make_window, sample_home, qtbot):
    n = Pipeline(sample_home).store.count()
    _, ctrl, view = _open(make_window, sample_home, qtbot)
    _select(view, 0)
    _answer_modal(qtbot, lambda box: box.reject())
    ctrl.forget_selected()
    assert Pipeline(sample_home).store.count() == n and ctrl.model.total == n


def test_edit_is_saved(make_window, sample_home, qtbot):
    window, ctrl, view = _open(make_window, sample_home, qtbot)
    _select(view, 1)
    memory = ctrl.model.memory(1)

    def type_and_save(dialog) -> None:
        dialog.editor.setPlainText("My neighbour's dog was quiet all night, finally.")
        dialog.accept()

    _answer_modal(qtbot, type_and_save)
    with qtbot.waitSignal(window.ctx.memories_changed, timeout=WAIT):
        ctrl.edit_selected()
    fresh = Pipeline(sample_home).store.get(memory.id)
    assert fresh.text == "My neighbour's dog was quiet all night, finally."
    assert (fresh.ts, fresh.emotion) == (memory.ts, memory.emotion)
    assert ctrl.model.memory(1).text == fresh.text


def test_empty_edit_shows_a_clear_message_and_changes_nothing(make_window, sample_home, qtbot):
    window, ctrl, view = _open(make_window, sample_home, qtbot)
    memory = ctrl.model.memory(0)
    with qtbot.waitSignal(window.ctx.error, timeout=WAIT) as blocker:
        ctrl.save_edit(memory.id, "   ")
    title, message = blocker.args
    assert title == "The memory was not changed" and "empty" in message
    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT)
    assert Pipeline(sample_home).store.get(memory.id).text == memory.text
    assert ctrl.model.memory(0).text == memory.text


def test_charts_and_empty_home(make_window, sample_home, home, qtbot):
    _, ctrl, view = _open(make_window, sample_home, qtbot)
    qtbot.waitUntil(lambda: len(view.mood.labels) > 0, timeout=WAIT)
    assert [s.name for s in view.mood.series] == ["Valence", "Arousal"]
    assert {s.name for s in view.labels.series} >= {"angry", "neutral"}
    for i in range(len(view.labels.labels)):  # the shares of a day add up to 1
        assert abs(sum(s.values[i] for s in view.labels.series) - 1.0) < 1e-6

    empty = make_window(home, "memories")
    ectrl, eview = empty.controllers["memories"], empty.views["memories"]
    qtbot.waitUntil(lambda: eview.list_stack.currentIndex() == 1, timeout=WAIT)
    assert "No memories yet" in eview.empty.text() and eview.count.text() == "0 memories"
    assert not eview.forget.isEnabled() and not eview.edit.isEnabled()
    ectrl.focus_search()
    assert eview.search.hasFocus() or QApplication.focusWidget() is eview.search


def test_the_date_range_narrows_the_rows(make_window, sample_home, qtbot):
    window, ctrl, view = _open(make_window, sample_home, qtbot)
    everything = Pipeline(sample_home).store.all_memories()
    since, until = date(2026, 2, 1), date(2026, 3, 8)  # both days included, local time
    expected = {m.id for m in everything if since <= m.ts.astimezone().date() <= until}
    assert 0 < len(expected) < len(everything)

    view.since.setDate(QDate(since.year, since.month, since.day))
    view.until.setDate(QDate(until.year, until.month, until.day))
    qtbot.waitUntil(lambda: ctrl.model.total == len(expected) and not ctrl.model.busy,
                    timeout=WAIT)
    qtbot.waitUntil(lambda: ctrl.model.rowCount() == len(expected), timeout=WAIT)
    shown = [ctrl.model.memory(r) for r in range(ctrl.model.rowCount())]
    assert {m.id for m in shown} == expected
    assert all(since <= m.ts.astimezone().date() <= until for m in shown)
    assert view.count.text() == f"{len(expected)} memories (filtered)"

    # A backwards range is refused in words, and the rows stay as they were.
    with qtbot.waitSignal(window.ctx.error, timeout=WAIT) as blocker:
        view.since.setDate(QDate(2026, 3, 9))
    assert blocker.args[0] == "Check the dates" and "backwards" in blocker.args[1]
    assert {ctrl.model.memory(r).id for r in range(ctrl.model.rowCount())} == expected

    view.clear.click()  # Any to Any: every memory again
    qtbot.waitUntil(lambda: ctrl.model.total == len(everything) and not ctrl.model.busy,
                    timeout=WAIT)
    assert view.since.text() == "Any" and view.until.text() == "Any"


def test_forgetting_several_selected_memories_removes_them_all(make_window, sample_home, qtbot):
    window, ctrl, view = _open(make_window, sample_home, qtbot)
    before = ctrl.model.total
    view.table.setFocus()
    _click_row(qtbot, view, 0)
    _click_row(qtbot, view, 2, Qt.KeyboardModifier.ControlModifier)
    _click_row(qtbot, view, 3, Qt.KeyboardModifier.ControlModifier)
    chosen = [ctrl.model.memory(r) for r in (0, 2, 3)]
    assert [m.id for m in ctrl.selected()] == [m.id for m in chosen]
    assert view.selection.text() == "3 selected"
    assert view.forget.isEnabled() and not view.edit.isEnabled()
    seen = {}

    def confirm(box) -> None:
        seen["text"], seen["button"] = box.text(), box.forget_button.text()
        box.forget_button.click()

    _answer_modal(qtbot, confirm)
    with qtbot.waitSignal(window.ctx.memories_changed, timeout=WAIT):
        qtbot.keyClick(view.table, Qt.Key.Key_Delete)
    assert seen == {"text": "Forget 3 memories?", "button": "Forget 3"}
    gone = {m.id for m in chosen}
    assert ctrl.model.total == before - 3
    assert not gone & {ctrl.model.memory(r).id for r in range(ctrl.model.rowCount())}
    fresh = Pipeline(sample_home).store
    assert fresh.count() == before - 3
    assert not gone & {m.id for m in fresh.all_memories()}
    assert "Forgot 3 memories" in window.banner.text


@pytest.mark.audio
def test_play_plays_the_kept_recording_and_stop_stops_it(pulse, make_window, sample_home, qtbot):
    pipe = Pipeline(sample_home)
    clip = espeak_wav("The ferry was late again this morning, so I read my book on the pier "
                      "and watched the gulls fight over a sandwich.",
                      pipe.home.audio_dir / "ferry.wav", speed=120)
    seconds = sf.info(str(clip)).duration
    pipe.store.add(Memory("The ferry was late again this morning", source="voice",
                          audio_path=clip.name))
    window, ctrl, view = _open(make_window, sample_home, qtbot)
    errors = []
    window.ctx.error.connect(lambda *args: errors.append(args))
    _click_row(qtbot, view, 1)  # an imported memory: nothing to play
    assert not view.play.isEnabled()
    _click_row(qtbot, view, 0)
    assert ctrl.selected()[0].audio_path == "ferry.wav" and view.play.isEnabled()

    with listening() as heard:
        qtbot.mouseClick(view.play, Qt.MouseButton.LeftButton)
        assert view.play.text() == "Stop" and view.play.isChecked()
        qtbot.waitUntil(lambda: heard.heard_seconds() > 1.0, timeout=WAIT)  # it is heard
        qtbot.mouseClick(view.play, Qt.MouseButton.LeftButton)  # Stop, halfway through
        qtbot.waitUntil(lambda: view.play.text() == "Play" and not view.play.isChecked(),
                        timeout=WAIT)
    # It stopped before the end: less of it was heard than the clip holds (no wall-clock
    # bound: under load the sound server may start late).
    assert heard.heard_seconds() < seconds - 1.0
    assert ctrl._playing is None and view.play.isEnabled() and errors == []
