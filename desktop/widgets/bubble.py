"""One turn of the conversation: the person's (right) or Persona's (left).

A person's turn shows the transcript and an emotion chip; Persona's turn grows as the reply
streams in and offers the memories it was answered from.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.widgets.emotion_chip import EmotionChip
from persona.desktop.widgets.thumbs import Thumbs


class Bubble(QWidget):
    """``role`` is "person" or "assistant"."""

    sources_requested = Signal()

    def __init__(self, role: str, text: str = "", *, meta: str = "", parent=None) -> None:
        super().__init__(parent)
        self.role = role
        frame = QFrame()
        frame.setObjectName("bubbleMe" if role == "person" else "bubbleAi")
        frame.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Minimum)
        self.text_label = QLabel(text)
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_label.setMaximumWidth(560)
        self.text_label.setAccessibleName("You said" if role == "person" else "Persona said")
        self.meta = QLabel(meta)
        self.meta.setObjectName("muted")
        self.chip = EmotionChip()
        self.sources = QToolButton()
        self.sources.setObjectName("sourcesButton")
        self.sources.setAccessibleName("Show the memories behind this reply")
        self.sources.clicked.connect(self.sources_requested)
        self.sources.hide()
        self.claims_note = QLabel()  # "No memory supports the underlined part" (claim_marks)
        self.claims_note.setObjectName("claimsNote")
        self.claims_note.hide()
        self.unsupported: list[str] = []
        self._plain = ""

        foot = QHBoxLayout()
        foot.setContentsMargins(0, 0, 0, 0)
        foot.addWidget(self.meta)
        foot.addWidget(self.chip)
        foot.addStretch(1)
        foot.addWidget(self.sources)
        self.thumbs = Thumbs()  # Persona's replies: shown by the Talk view's PrefsController
        self.thumbs.hide()
        foot.addWidget(self.thumbs)
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(12, 8, 12, 8)
        inner.setSpacing(4)
        inner.addWidget(self.text_label)
        inner.addWidget(self.claims_note)
        inner.addLayout(foot)

        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        if role == "person":
            row.addStretch(1)
            row.addWidget(frame)
        else:
            row.addWidget(frame)
            row.addStretch(1)

    @property
    def text(self) -> str:
        return self._plain if self.unsupported else self.text_label.text()

    def set_text(self, text: str) -> None:
        self.text_label.setText(text)

    def append(self, piece: str) -> None:
        self.text_label.setText(self.text_label.text() + piece)

    def mark_unsupported(self, sentences: list[str]) -> None:
        """Underline the sentences of the reply that no memory supports (with a note)."""
        from persona.desktop.widgets.claim_marks import mark

        text = self.text  # the plain reply: marks are re-drawn from it, never stacked
        self._plain, self.unsupported = text, list(sentences)
        mark(self.text_label, self.claims_note, text, self.unsupported)

    def set_meta(self, text: str) -> None:
        self.meta.setText(text)

    def set_sources(self, count: int) -> None:
        if count:
            self.sources.setText(f"{count} memor{'y' if count == 1 else 'ies'} ›")
            self.sources.setToolTip("The memories this reply was answered from")
            self.sources.show()
        else:
            self.sources.hide()
