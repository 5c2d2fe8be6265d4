"""Wires the Talk view to the core: push-to-talk, typed questions, streamed and spoken replies.

Space (held while no text field has focus) and the microphone button record through
``RecordingWorker``, which feeds a ``LiveTurn`` while the key is held (partial transcripts,
memories and the prompt's prefix are worked on before release, on its own worker); at release
the turn finishes on a turn thread: the transcript and its emotion appear as soon as they
exist, the reply streams in as text while it is spoken. One turn runs at a time; talking again while Persona speaks stops it (barge-in).
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QEvent, QObject, QThreadPool, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

from persona.core.live_turn import LiveTurn
from persona.desktop.controllers.prefs_controller import PrefsController
from persona.desktop.views.sources_dialog import SourcesDialog
from persona.desktop.views.talk_view import IDLE_HINT, TalkView
from persona.desktop.workers.recording import RecordingWorker
from persona.desktop.workers.task import start_task

log = logging.getLogger(__name__)
RELEASE_MS = 90
_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


class _TurnSignals(QObject):
    heard = Signal(object)  # core.pipeline.Heard
    piece = Signal(str)  # a streamed piece of the reply


class TalkController(QObject):
    turn_finished = Signal(object)  # core.pipeline.Reply (tests and benchmarks wait on it)

    def __init__(self, ctx, view: TalkView) -> None:
        super().__init__(view)
        self.ctx, self.view = ctx, view
        self.muted = False
        self.as_me = False  # the view's "Speak as me" toggle
        self.recorder = RecordingWorker(ctx.settings, self)
        self._turns = QThreadPool(self)  # one turn at a time, in order
        self._turns.setMaxThreadCount(1)
        self.prefs = PrefsController(ctx, view, self._turns)  # thumbs, side-by-side choices
        self._stop: threading.Event | None = None
        self.live: LiveTurn | None = None  # the turn being recorded (or the last one)
        self._busy = 0
        self._history_loaded = False
        self._silence = threading.Event()  # set while muted: speech stops, text goes on
        self._clock = QTimer(self, interval=100, timeout=self._tick)
        # Some X servers send auto-repeat as release+press pairs that Qt cannot flag: a release
        # counts only when no press follows within RELEASE_MS (measured under Xvfb + xdotool).
        self._release = QTimer(self, singleShot=True, interval=RELEASE_MS,
                               timeout=self.stop_recording)

        view.mic_pressed.connect(self.start_recording)
        view.mic_released.connect(self.stop_recording)
        view.text_submitted.connect(self.ask)
        view.stop_clicked.connect(self.stop_speaking)
        view.mute_toggled.connect(self._set_muted)
        view.as_me_toggled.connect(lambda on: setattr(self, "as_me", on))
        self.recorder.started.connect(self._recording_started)
        self.recorder.level.connect(view.meter.set_level)
        self.recorder.limit_reached.connect(self._limit_reached)
        self.recorder.finished.connect(self._utterance_ready)
        self.recorder.failed.connect(self._recording_failed)
        ctx.settings_changed.connect(lambda: self.recorder.configure(ctx.settings))
        QApplication.instance().installEventFilter(self)

    # ------------------------------------------------------------------ Space = push to talk
    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        key_event: QKeyEvent = event
        if key_event.key() != 0x20 or key_event.modifiers():  # Qt.Key_Space, unmodified
            return False
        if not self._space_talks(obj):
            return False
        if key_event.isAutoRepeat():
            return True  # holding the key repeats it; one recording per hold
        if kind == QEvent.Type.KeyPress:
            if self._release.isActive():
                self._release.stop()  # an unflagged auto-repeat: the key is still held
            else:
                self.start_recording()
        else:
            self._release.start()
        return True

    def _space_talks(self, target) -> bool:
        """Space talks when it goes to the window showing the Talk view (not a dialog) and
        no text field has focus."""
        if not self.view.isVisible() or QApplication.activeModalWidget() is not None:
            return False
        if not (target.isWidgetType() and target.window() is self.view.window()):
            return False
        focus = QApplication.focusWidget()
        if isinstance(focus, _TEXT_INPUTS):
            return False
        return not (isinstance(focus, QComboBox) and focus.isEditable())

    # ------------------------------------------------------------------ recording
    def toggle_recording(self) -> None:
        """The tray's push-to-talk: start, or stop and send."""
        if self.recorder.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> None:
        if self.recorder.recording:
            return
        self.stop_speaking()  # talking over Persona interrupts it
        if self.live is not None:
            self.live.cancel()  # a turn never sent (a failed recording) is discarded
        self.live = LiveTurn(self.ctx.pipeline)
        self.view.set_recording(True)
        self.view.set_state("● Recording — release to send")
        self.recorder.start(on_audio=self.live.feed)

    def stop_recording(self) -> None:
        if not self.recorder.recording:
            return
        self._clock.stop()
        self.recorder.stop()
        self.view.set_recording(False)
        self.view.set_state("Transcribing …" if self._asr_ready()
                            else "Transcribing … (the speech model is still loading)")

    def _recording_started(self) -> None:
        log.info("recording started")
        self._clock.start()
        self._tick()

    def _tick(self) -> None:
        self.view.set_time(self.recorder.elapsed, self.ctx.settings.max_record_seconds)

    def _limit_reached(self) -> None:
        limit = self.ctx.settings.max_record_seconds
        self.stop_recording()
        self.ctx.notice.emit(f"Recording stopped at the {limit:.0f} s limit and was sent "
                             "(change the limit in Settings).")

    def _recording_failed(self, message: str) -> None:
        self._clock.stop()
        if self.live is not None:
            self.live.cancel()
        self.view.set_recording(False)
        self.view.set_state(IDLE_HINT)
        self.ctx.show_error(message, "The microphone could not be used")

    def _asr_ready(self) -> bool:
        return "asr" in self.ctx.ready or "transcriber" in self.ctx.pipeline.__dict__

    # ------------------------------------------------------------------ turns
    def _utterance_ready(self, utterance) -> None:
        live = self.live or LiveTurn(self.ctx.pipeline)
        self._run_turn("Answering", lambda stop, sig: live.finish(
            utterance, speak=not self.muted, on_heard=sig.heard.emit, on_text=sig.piece.emit,
            stop=stop, silence=self._silence, as_me=self.as_me))

    def ask(self, question: str) -> None:
        """A typed question: shown at once, answered like a spoken one."""
        pipe = self.ctx.pipeline

        def turn(stop, sig):
            tag = pipe.tagger.tag(question)
            sig.heard.emit(_Typed(question, tag))
            return None, pipe.reply(question, emotion=tag, speak=not self.muted,
                                    on_text=sig.piece.emit, stop=stop, silence=self._silence,
                                    as_me=self.as_me)

        self._run_turn("Answering", turn)

    def _run_turn(self, name: str, fn) -> None:
        stop = threading.Event()
        sig = _TurnSignals(self)
        state = {"person": None, "reply": None}
        sig.heard.connect(lambda heard: self._show_heard(heard, state))
        sig.piece.connect(lambda piece: self._show_piece(piece, state))

        def run(task):
            self._stop = stop
            return fn(stop, sig)

        self._busy += 1
        self.view.set_busy(True)
        if not self.recorder.recording:
            self.view.set_state("Transcribing …")
        start_task(run, name=name, pool=self._turns,
                   on_result=lambda result: self._finish(result, state),
                   on_error=lambda message: self._failed(message, state),
                   on_finished=self._turn_done)

    def _show_heard(self, heard, state) -> None:
        bubble = self.view.add_turn("person", heard.transcript.text,
                                    meta="typed" if isinstance(heard, _Typed) else "spoken")
        e = heard.emotion
        bubble.chip.set_emotion(e.label, e.valence, e.arousal, e.confidence, e.method)
        state["person"] = bubble
        state["typed"] = isinstance(heard, _Typed)
        state["reply"] = self.view.add_turn("assistant", "", meta="Persona")
        state["reply"].set_text("…")
        state["started"] = False
        if not self.recorder.recording:
            self.view.set_state("Thinking …")
        if heard.memory is not None or isinstance(heard, _Typed):
            self.ctx.memories_changed.emit()

    def _show_piece(self, piece: str, state) -> None:
        bubble = state["reply"]
        if bubble is None:
            return
        if not state.get("started"):
            bubble.set_text("")
            state["started"] = True
            if not self.recorder.recording:
                self.view.set_state("Speaking …" if not self.muted else "Answering …")
        bubble.append(piece)

    def _finish(self, result, state) -> None:
        _, reply = result
        bubble = state["reply"]
        if bubble is not None:
            bubble.set_text(reply.text or "(no reply)")
            bubble.mark_unsupported([c.sentence for c in reply.unsupported])
            bubble.set_sources(len(reply.hits))
            bubble.sources_requested.connect(lambda: self.show_sources(reply))
            timing = f" · first words after {reply.first_token_s:.1f} s" \
                if reply.first_token_s is not None else ""
            bubble.set_meta(f"Persona{timing}")
            if reply.text:
                self.prefs.attach(bubble, reply.question)
        if reply.text:
            self.prefs.after_reply(reply.question, typed=state.get("typed", False))
        self.ctx.memories_changed.emit()
        self.turn_finished.emit(reply)

    def _failed(self, message: str, state) -> None:
        if state["reply"] is not None and not state.get("started"):
            self.view.remove_turn(state["reply"])
        self.ctx.show_error(message, "That turn did not work")

    def _turn_done(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._stop = None
            self.view.set_busy(False)
            if not self.recorder.recording:
                self.view.set_state(IDLE_HINT)

    def show_sources(self, reply) -> SourcesDialog:
        rows = [{"date": h.memory.ts.astimezone().strftime("%Y-%m-%d %H:%M"),
                 "emotion": h.memory.emotion, "valence": h.memory.valence,
                 "arousal": h.memory.arousal, "confidence": h.memory.emotion_confidence,
                 "text": h.memory.text, "score": h.score} for h in reply.hits]
        dialog = SourcesDialog(reply.question, rows, self.view)
        dialog.setModal(False)
        dialog.show()
        return dialog

    # ------------------------------------------------------------------ speech
    def stop_speaking(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _set_muted(self, on: bool) -> None:
        """Mute silences the reply being spoken at once (its text goes on) and the next ones."""
        self.muted = on
        if on:
            self._silence.set()
        else:
            self._silence = threading.Event()  # from the next reply on

    def activate(self) -> None:
        self.view.mic.setFocus()
        if not self._history_loaded:
            self._history_loaded = True
            self._load_history()

    def _load_history(self) -> None:
        """Show the latest conversation, as it was left (turns are memories)."""
        from persona.core.conversation import last_conversation

        pipeline = self.ctx.pipeline  # its store is opened on the worker (LanceDB's import
        # alone is ~1 s: on the UI thread it froze the window just after it appeared)
        start_task(lambda task: last_conversation(pipeline.store), name="Loading the conversation",
                   on_result=self._show_history,
                   on_error=lambda m: self.ctx.show_error(m, "The conversation could not be read"))

    def _show_history(self, turns) -> None:
        if self.view.turns():
            return  # the person already started talking
        question = ""
        for m in turns:
            when = m.ts.astimezone().strftime("%d %b, %H:%M")
            role = "person" if m.speaker == "person" else "assistant"
            bubble = self.view.add_turn(role, m.text,
                                        meta=when if role == "person" else f"Persona · {when}")
            if role == "person":
                bubble.chip.set_emotion(m.emotion, m.valence, m.arousal, m.emotion_confidence)
                question = m.text
            else:
                self.prefs.attach(bubble, question, reply_id=m.id)

    def shutdown(self) -> None:
        QApplication.instance().removeEventFilter(self)
        self.stop_speaking()
        self.recorder.shutdown()
        self._turns.waitForDone(60_000)


class _Typed:
    """A typed question, shaped like ``core.pipeline.Heard`` for the view."""

    def __init__(self, text: str, emotion) -> None:
        from persona.core.asr.base import Transcript

        self.transcript = Transcript(text=text)
        self.emotion = emotion
        self.memory = None
