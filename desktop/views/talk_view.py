"""The Talk view: the conversation, the big microphone button and a text field (layout only).

TalkController drives it: it calls the ``set_*``/``add_*`` methods and listens to the
signals; nothing here touches the core.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.theme import icon
from persona.desktop.widgets.bubble import Bubble
from persona.desktop.widgets.buttons import button
from persona.desktop.widgets.level_meter import LevelMeter

IDLE_HINT = "Hold Space (or the microphone) and speak; release to send."


class TalkView(QWidget):
    mic_pressed = Signal()
    mic_released = Signal()
    text_submitted = Signal(str)
    stop_clicked = Signal()
    mute_toggled = Signal(bool)
    compare_clicked = Signal()
    as_me_toggled = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Talk")

        title = QLabel("Talk")
        title.setObjectName("viewTitle")
        self.mute = QToolButton()
        self.mute.setCheckable(True)
        self.mute.setText("Mute replies")
        self.mute.setToolTip("Stop speaking replies, this one too; they still appear as text "
                             "(Ctrl+M)")
        self.mute.setAccessibleName("Mute spoken replies")
        self.mute.setShortcut("Ctrl+M")
        self.mute.toggled.connect(self._mute_changed)
        # "Speak as me": replies in the person's own voice (Pipeline.reply(as_me=True)).
        self.as_me = button("Speak as me", name="Speak as me", checkable=True,
                            tip="Answer as you would, in your own words and style (\"How would "
                                "I answer this invitation?\") instead of as your assistant")
        self.as_me.toggled.connect(self.as_me_toggled)
        self.stop = QPushButton("Stop")
        self.stop.setToolTip("Stop speaking and stop the reply (Esc)")
        self.stop.setAccessibleName("Stop speaking")
        self.stop.setShortcut("Esc")
        self.stop.setEnabled(False)
        self.stop.clicked.connect(self.stop_clicked)
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.as_me)
        # Two replies side by side (desktop/widgets/choice_card).
        self.compare = button("Compare replies", name="Compare two replies", shortcut="Ctrl+B",
                              on_click=self.compare_clicked,
                              tip="Two replies to your last question side by side: pick the "
                                  "better one and Persona learns how you like replies (Ctrl+B)")
        head.addWidget(self.compare)
        head.addWidget(self.mute)
        head.addWidget(self.stop)

        # The conversation: bubbles stacked from the bottom, newest last.
        self._turns = QWidget()
        self._turns_layout = QVBoxLayout(self._turns)
        self._turns_layout.setContentsMargins(0, 8, 0, 8)
        self._turns_layout.setSpacing(6)
        self._turns_layout.addStretch(1)
        self.empty = QLabel("Ask me about your life — where someone lives, what you did last "
                            "spring, how you felt about it.\nEverything stays on this computer.")
        self.empty.setObjectName("hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self._turns_layout.addWidget(self.empty)
        self._turns_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self._turns)
        self.scroll.setAccessibleName("Conversation")
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar = self.scroll.verticalScrollBar()
        bar.rangeChanged.connect(lambda _lo, hi: bar.setValue(hi))

        # Push-to-talk.
        self.mic = QPushButton()
        self.mic.setObjectName("micButton")
        self.mic.setIcon(icon("mic"))
        self.mic.setIconSize(QSize(34, 34))
        self.mic.setToolTip("Hold to talk, release to send (or hold Space)")
        self.mic.setAccessibleName("Push to talk")
        self.mic.setAccessibleDescription("Hold Space or this button while you speak")
        self.mic.pressed.connect(self.mic_pressed)
        self.mic.released.connect(self.mic_released)
        self.state = QLabel(IDLE_HINT)
        self.state.setObjectName("recordingState")
        self.state.setAccessibleName("Recording state")
        self.meter = LevelMeter()
        self.meter.setAccessibleName("Input level")
        self.time_left = QLabel("")
        self.time_left.setObjectName("muted")
        self.time_left.setAccessibleName("Recording time")
        status = QVBoxLayout()
        status.setSpacing(4)
        status.addWidget(self.state)
        status.addWidget(self.meter)
        status.addWidget(self.time_left)
        ptt = QHBoxLayout()
        ptt.setSpacing(14)
        ptt.addWidget(self.mic)
        ptt.addLayout(status, 1)

        self.entry = QLineEdit()
        self.entry.setPlaceholderText("…or type a question and press Enter")
        self.entry.setAccessibleName("Type a question")
        self.entry.setClearButtonEnabled(True)
        self.entry.returnPressed.connect(self._submit)
        self.send = QPushButton("Send")
        self.send.setAccessibleName("Send the typed question")
        self.send.clicked.connect(self._submit)
        typed = QHBoxLayout()
        typed.addWidget(self.entry, 1)
        typed.addWidget(self.send)

        bottom = QFrame()
        bottom.setObjectName("talkBar")
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(16, 10, 16, 12)
        bl.addLayout(ptt)
        bl.addLayout(typed)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(16, 12, 16, 4)
        lay.addLayout(head)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(bottom)
        self.meter.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # The view opens with focus on the microphone, not the text field (Space talks).
        self.setFocusProxy(self.mic)

    # ------------------------------------------------------------------ conversation
    def add_turn(self, role: str, text: str = "", *, meta: str = "") -> Bubble:
        self.empty.hide()
        bubble = Bubble(role, text, meta=meta)
        # Before the trailing stretch, so turns stay at the bottom like a chat.
        self._turns_layout.insertWidget(self._turns_layout.count() - 1, bubble)
        bubble.show()  # now, not on the event loop's next pass (what a layout does)
        return bubble

    def add_card(self, card: QWidget) -> None:
        """A widget in the conversation that is not a turn (a side-by-side choice)."""
        self.empty.hide()
        self._turns_layout.insertWidget(self._turns_layout.count() - 1, card)
        card.show()

    def remove_turn(self, bubble: Bubble) -> None:
        self._turns_layout.removeWidget(bubble)
        bubble.deleteLater()

    def turns(self) -> list[Bubble]:
        return [w for w in self._turns.findChildren(Bubble)]

    # ------------------------------------------------------------------ recording state
    def set_recording(self, on: bool) -> None:
        for w in (self.mic, self.state):
            w.setProperty("recording", "true" if on else "false")
            w.style().unpolish(w)
            w.style().polish(w)
        self.mic.setAccessibleDescription("Recording — release to send" if on
                                          else "Hold Space or this button while you speak")
        if not on:
            self.meter.set_level(float("-inf"))
            self.time_left.setText("")

    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def set_time(self, elapsed: float, limit: float) -> None:
        left = max(0.0, limit - elapsed)
        self.time_left.setText(f"{_mmss(elapsed)} recorded · {_mmss(left)} left")

    def set_busy(self, busy: bool) -> None:
        self.stop.setEnabled(busy)

    def _submit(self) -> None:
        text = self.entry.text().strip()
        if text:
            self.entry.clear()
            self.text_submitted.emit(text)

    def _mute_changed(self, on: bool) -> None:
        self.mute.setText("Muted" if on else "Mute replies")
        self.mute_toggled.emit(on)


def _mmss(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"
