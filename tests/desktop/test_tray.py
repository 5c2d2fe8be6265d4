"""The system-tray icon's menu (desktop/shell.py): Push to talk, Show / hide Persona, Quit.

Xvfb and the offscreen platform have no system tray, so ``QSystemTrayIcon.isSystemTrayAvailable()``
is False here and the Shell would make no icon: the tests say a tray is there (the one thing
faked), then trigger the real menu's actions on a real window over the real core.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from persona.desktop.shell import Shell
from persona.desktop.workers.training_job import OUT_NAME, PID_NAME

ACTIONS = ["Push to talk", "Show / hide Persona", "Quit Persona"]


@pytest.fixture
def tray_shell(monkeypatch):
    """``tray_shell(window) -> (shell, {action text: QAction}, quits)``.

    Faked: a tray exists (none can here), and ``QApplication.quit`` only counts the call:
    the real one would end the event loop that every later test of the session waits on."""
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    quits: list[bool] = []
    monkeypatch.setattr(QCoreApplication, "quit", staticmethod(lambda: quits.append(True)))
    shells = []

    def make(window):
        shell = Shell(QApplication.instance(), window.ctx, window, tray=True)
        shells.append(shell)
        assert isinstance(shell.tray, QSystemTrayIcon)
        menu = shell.tray.contextMenu()
        actions = {a.text(): a for a in menu.actions() if not a.isSeparator()}
        assert list(actions) == ACTIONS
        return shell, actions, quits

    yield make
    for shell in shells:
        shell.tray.hide()


def _answer(qtbot, button_text: str, seen: list[str]) -> None:
    """Press ``button_text`` in the next question box once it is shown (exec() blocks)."""
    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen.append(box.text())
        (button,) = [b for b in box.buttons() if b.text().replace("&", "") == button_text]
        button.click()

    QTimer.singleShot(0, press)


def test_the_tray_shows_and_hides_the_window_and_quits(sample_home, make_window, qtbot,
                                                       tray_shell):
    window = make_window(sample_home)
    shell, actions, quits = tray_shell(window)
    assert shell.tray.toolTip() == "Persona" and shell.tray.contextMenu() is shell._tray_menu
    toggle = actions["Show / hide Persona"]

    toggle.trigger()
    qtbot.waitUntil(lambda: not window.isVisible())
    toggle.trigger()
    qtbot.waitUntil(window.isVisible)
    assert not window.isMinimized()

    # A minimised window is brought back rather than hidden.
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized)
    toggle.trigger()
    qtbot.waitUntil(lambda: window.isVisible() and not window.isMinimized())

    # A left click on the icon toggles too; the context-menu click only opens the menu.
    shell.tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert not window.isVisible()
    shell.tray.activated.emit(QSystemTrayIcon.ActivationReason.Context)
    assert not window.isVisible()
    shell.tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert window.isVisible()

    # Quit with no training run going: the window closes and the application quits, unasked.
    actions["Quit Persona"].trigger()
    assert quits == [True]
    assert not window.isVisible()
    assert not shell._quitting


def test_quit_from_the_tray_asks_while_a_training_run_goes(sample_home, make_window, qtbot,
                                                           tray_shell):
    # A stand-in for the `persona train` child an earlier window left going (the real one
    # loads a language model: tests/desktop/test_close_while_training.py runs it). The
    # privacy page follows it as it follows a real run: through desktop-train.json.
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                                 "persona-train-stand-in"])
    try:
        logs = sample_home / "logs"
        logs.mkdir(exist_ok=True)
        (logs / OUT_NAME).write_bytes(b"")  # its events (none yet)
        (logs / PID_NAME).write_text(json.dumps({"pid": stand_in.pid, "started": None}))
        window = make_window(sample_home, "privacy")
        job = window.ctx.training_job
        assert job.running and job.pid == stand_in.pid
        shell, actions, quits = tray_shell(window)
        seen: list[str] = []

        _answer(qtbot, "Cancel", seen)
        actions["Quit Persona"].trigger()  # asks; Cancel: nothing closes, nothing quits
        assert seen == ["A training run is still going."]
        assert quits == [] and window.isVisible() and job.running

        _answer(qtbot, "Keep training", seen)
        actions["Quit Persona"].trigger()
        assert len(seen) == 2 and quits == [True] and not window.isVisible()
        assert not job.running  # this window let go of it...
        assert stand_in.poll() is None  # ...and the run goes on
    finally:
        stand_in.kill()
        stand_in.wait(30)


@pytest.mark.audio
def test_push_to_talk_from_the_tray_records_while_the_window_is_hidden(
        pulse, sample_home, make_window, qtbot, tray_shell):
    window = make_window(sample_home)
    view, controller = window.page("talk")
    shell, actions, _ = tray_shell(window)
    actions["Show / hide Persona"].trigger()
    qtbot.waitUntil(lambda: not window.isVisible())
    errors = []
    window.ctx.error.connect(lambda title, message: errors.append((title, message)))

    actions["Push to talk"].trigger()  # first choice: start recording
    assert controller.recorder.recording and view.mic.property("recording") == "true"
    qtbot.waitUntil(lambda: controller.recorder.recorder.is_open or bool(errors), timeout=10_000)
    assert errors == []
    qtbot.waitUntil(lambda: controller.recorder.elapsed > 1.0, timeout=10_000)
    with qtbot.waitSignal(controller.recorder.finished, timeout=10_000) as sent:
        actions["Push to talk"].trigger()  # again: stop and send
    assert not controller.recorder.recording and view.mic.property("recording") == "false"
    assert sent.args[0].duration > 1.0  # the recording went to the turn
    # Nothing was said into the sink: the turn says so and stores nothing.
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    assert "silent" in errors[0][1].lower() or "no speech" in errors[0][1].lower()
    qtbot.waitUntil(lambda: controller._busy == 0, timeout=30_000)
    assert not window.isVisible() and view.turns() == []
