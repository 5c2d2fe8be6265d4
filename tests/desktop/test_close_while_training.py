"""Closing the window while a training run goes asks whether to keep training: Cancel keeps
the window open, "Keep training" closes it and the run goes on in its own process."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from persona.desktop.shell import Shell
from tests.core.llm.conftest import use_fast_llm

pytestmark = pytest.mark.slow


def _answer(qtbot, button_text: str) -> None:
    """Press ``button_text`` in the question box as soon as it is shown."""
    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, press)
            return
        assert "training run is still going" in box.text()
        (button,) = [b for b in box.buttons() if b.text().replace("&", "") == button_text]
        button.click()

    QTimer.singleShot(50, press)


def test_closing_while_training_asks_and_can_keep_it_going(sample_home, make_window, qtbot):
    use_fast_llm(sample_home)  # the run only has to be going: the smallest model starts first
    window = make_window(sample_home, "privacy")
    ctx = window.ctx
    shell = Shell(QApplication.instance(), ctx, window, tray=False)
    job = ctx.training_job
    pid = job.start()
    try:
        qtbot.waitUntil(lambda: job.last is not None or not job.running, timeout=120_000)
        assert job.running
        # The status bar says so on every page.
        qtbot.waitUntil(lambda: "Training your persona" in window.training.text())

        _answer(qtbot, "Cancel")
        assert not window.close()  # Cancel: the window stays, the run goes on
        assert window.isVisible() and job.running

        _answer(qtbot, "Keep training")
        assert window.close()
        assert not job.running  # this window no longer follows it...
        os.kill(pid, 0)  # ...but the process is still there, training in the background
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, qtbot)
    assert shell.window is window


def _wait_gone(pid: int, qtbot) -> None:
    def gone() -> bool:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
            if waited == pid:
                return True
            os.kill(pid, 0)
            return False
        except (ChildProcessError, ProcessLookupError):
            return True

    qtbot.waitUntil(gone, timeout=120_000)
