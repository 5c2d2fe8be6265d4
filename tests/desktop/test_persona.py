"""The Persona view over a real profile: induced badges, hand edits, save, revert, and
re-induction that keeps the person's edits (real induction on the sample home)."""

from __future__ import annotations

import yaml
from PySide6.QtCore import Qt

from persona.core.persona.fields import read_fields


def _open(make_window, home, qtbot):
    window = make_window(home, "persona")
    view, controller = window.page("persona")
    qtbot.waitUntil(lambda: controller._loaded and not controller.busy, timeout=20_000)
    return window, view, controller


def test_an_edited_field_survives_reinduction(make_window, sample_home, qtbot):
    window, view, controller = _open(make_window, sample_home, qtbot)
    key = "memory.frequent_topics"
    assert view.badges[key].isVisibleTo(view)  # induced on the sample home
    assert not view.badges["identity.name"].isVisibleTo(view)  # the person's own

    editor = view.editors[key]
    editor.setFocus()
    editor.setPlainText("sailing\nthe harbour seals")
    assert not view.badges[key].isVisibleTo(view)  # edited: no longer induced
    assert view.save.isEnabled()
    qtbot.keyClick(editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not controller.dirty and not controller.busy, timeout=10_000)
    saved = yaml.safe_load((sample_home / "profile.yaml").read_text())
    assert saved["memory"]["frequent_topics"] == ["sailing", "the harbour seals"]

    qtbot.mouseClick(view.reinduce, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.report.isVisibleTo(view) and not controller.busy,
                    timeout=60_000)
    assert "frequent topics" in view.report.text()  # reported as kept
    assert "Kept your own" in view.report.text()
    assert view.value(key) == ["sailing", "the harbour seals"]
    origins = {f.key: f.origin for f in read_fields(sample_home / "profile.yaml")}
    assert origins[key] == "yours"
    assert origins["memory.key_facts"] == "induced"
    assert view.badges["memory.key_facts"].isVisibleTo(view)


def test_revert_and_typing_the_induced_value_back(make_window, sample_home, qtbot):
    _, view, controller = _open(make_window, sample_home, qtbot)
    key = "personality.dominant_emotion"
    before = view.value(key)
    view.editors[key].setText("calm")
    view.editors[key].textEdited.emit("calm")
    assert not view.badges[key].isVisibleTo(view) and view.revert.isEnabled()
    view.editors[key].setText(before)
    view.editors[key].textEdited.emit(before)
    assert view.badges[key].isVisibleTo(view) and not view.save.isEnabled()
    view.editors["identity.summary"].setText("Marine biologist.")
    view.editors["identity.summary"].textEdited.emit("Marine biologist.")
    qtbot.mouseClick(view.revert, Qt.MouseButton.LeftButton)
    assert view.value("identity.summary") == "" and not controller.dirty


def test_a_bad_value_shows_a_message_and_saves_nothing(make_window, sample_home, qtbot):
    window, view, controller = _open(make_window, sample_home, qtbot)
    before = (sample_home / "profile.yaml").read_bytes()
    key = "pattern.active_hours"
    view.editors[key].setText("7, 25")
    view.editors[key].textEdited.emit("7, 25")
    with qtbot.waitSignal(window.ctx.error, timeout=10_000) as blocker:
        qtbot.mouseClick(view.save, Qt.MouseButton.LeftButton)
    title, message = blocker.args
    assert "not saved" in title and "active_hours" in message and "0 to 23" in message
    qtbot.waitUntil(lambda: not controller.busy)
    assert (sample_home / "profile.yaml").read_bytes() == before
    assert controller.dirty == {key}  # the edit is still there to fix
