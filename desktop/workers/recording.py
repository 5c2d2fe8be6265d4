"""Push-to-talk recording for the window: core's ``Recorder`` with its events as Qt signals.

Opening and closing the microphone can take tens of milliseconds (PulseAudio, Core Audio),
so ``start``/``stop`` run on one private thread, in order: a key released before the stream
is open still stops it, and the UI thread never waits for the audio system.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, Signal

from persona.core.audio.capture import Recorder
from persona.core.errors import PersonaError

log = logging.getLogger(__name__)


class RecordingWorker(QObject):
    started = Signal()
    level = Signal(float)  # dBFS of the last block, ~20 times a second
    limit_reached = Signal()  # max_record_seconds stopped the recording
    finished = Signal(object)  # the Utterance
    failed = Signal(str)

    def __init__(self, settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._exec = ThreadPoolExecutor(1, thread_name_prefix="persona-mic")
        self._recording = False
        self.recorder = self._make(settings)

    def _make(self, settings) -> Recorder:
        return Recorder.from_settings(settings, on_level=self.level.emit,
                                      on_limit=self.limit_reached.emit)

    def configure(self, settings) -> None:
        """Use the microphone and limit of ``settings`` from the next recording on."""
        if not self._recording:
            self.recorder = self._make(settings)

    @property
    def recording(self) -> bool:
        return self._recording

    @property
    def elapsed(self) -> float:
        return self.recorder.elapsed if self._recording else 0.0

    def start(self, on_audio=None) -> None:
        """Record; ``on_audio(block, rate)`` gets each block (a ``LiveTurn``'s ``feed``)."""
        if self._recording:
            return
        self._recording = True
        self.recorder.on_audio = on_audio
        self._exec.submit(self._start)

    def stop(self) -> None:
        if not self._recording:
            return
        self._recording = False
        self._exec.submit(self._stop)

    def _start(self) -> None:
        try:
            self.recorder.start()
        except PersonaError as exc:
            self._recording = False
            self.failed.emit(str(exc))
            return
        self.started.emit()

    def _stop(self) -> None:
        if not self.recorder.is_open:
            return  # the start failed; there is nothing to stop
        try:
            self.finished.emit(self.recorder.stop())
        except PersonaError as exc:
            self.failed.emit(str(exc))

    def shutdown(self) -> None:
        self.stop()
        self._exec.shutdown(wait=True)
