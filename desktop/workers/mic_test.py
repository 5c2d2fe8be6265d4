"""A microphone test: listen for a few seconds and report the level, then let go.

Used by the Settings view and the first-run onboarding. The recording itself is thrown
away: a test never becomes a memory.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from persona.desktop.workers.recording import RecordingWorker

TEST_SECONDS = 15  # the test stops by itself


class MicTest(QObject):
    level = Signal(float)  # dBFS, ~20 times a second
    state = Signal(bool, str)  # listening?, a line for the person
    failed = Signal(str)  # the core's message: what went wrong and what to do

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker: RecordingWorker | None = None

    @property
    def running(self) -> bool:
        return self.worker is not None

    def toggle(self, settings, microphone: str | int | None = None) -> None:
        """Start a test with ``microphone`` (None: the settings' one), or stop the running one."""
        if self.worker is not None:
            self.stop()
            return
        update = {"max_record_seconds": TEST_SECONDS}
        if microphone is not None:
            update["microphone"] = microphone
        self.worker = w = RecordingWorker(settings.model_copy(update=update))
        w.level.connect(self.level)
        w.started.connect(lambda: self.state.emit(
            True, "Listening … speak, and watch the bar move."))
        w.limit_reached.connect(self.stop)
        w.finished.connect(lambda _utterance: self._done("Test finished."))
        w.failed.connect(self._failed)
        self.state.emit(True, "Opening the microphone …")
        w.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()  # finished (or failed) follows from the worker's thread

    def _failed(self, message: str) -> None:
        self._done("")
        self.failed.emit(message)

    def _done(self, text: str) -> None:
        worker, self.worker = self.worker, None
        self.state.emit(False, text)
        if worker is not None:
            # Let the worker's thread finish its last job, then release it.
            QTimer.singleShot(0, worker.shutdown)

    def shutdown(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.shutdown()
