"""The Settings view's names box over the real sample home: "Suggest names from my
memories" lists candidates from the diary with checkboxes; the ticked ones are saved to
redact_names and used by the app at once."""

from __future__ import annotations

from PySide6.QtCore import Qt

from persona.core.settings import load_settings


def test_suggest_tick_and_redact(make_window, sample_home, qtbot):
    window = make_window(sample_home, "settings")
    view, _controller = window.page("settings")
    box = view.names
    qtbot.mouseClick(box.suggest, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.suggest.isEnabled() and box.status.text()
                    and "Looking" not in box.status.text(), timeout=60_000)
    assert box.candidates.count() > 0, box.status.text()
    first = box.candidates.item(0)
    name = first.data(Qt.ItemDataRole.UserRole)
    assert name not in window.ctx.settings.redact_names
    first.setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(window.ctx.settings_changed, timeout=10_000):
        qtbot.mouseClick(box.confirm, Qt.MouseButton.LeftButton)
    assert name in window.ctx.settings.redact_names
    assert name in load_settings(sample_home / "settings.yaml").redact_names
    assert name in box.listed.text()
    assert all(box.candidates.item(i).data(Qt.ItemDataRole.UserRole) != name
               for i in range(box.candidates.count()))


def test_confirm_with_nothing_ticked_changes_nothing(make_window, sample_home, qtbot):
    window = make_window(sample_home, "settings")
    view, _controller = window.page("settings")
    before = list(window.ctx.settings.redact_names)
    view.names.confirm_clicked.emit()
    assert "Tick" in view.names.status.text()
    assert window.ctx.settings.redact_names == before
