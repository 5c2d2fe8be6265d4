"""Thumbs up and down on one of Persona's replies (two checkable buttons, one vote).

Clicking the thumb that is already on takes the vote back. ``voted`` says +1, -1 or 0.
Both buttons take keyboard focus (Tab) and have accessible names.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget

from persona.desktop.theme import icon


class Thumbs(QWidget):
    voted = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.vote = 0
        self.up = self._button("thumb-up", "Good reply",
                               "Thumbs up: more replies like this one")
        self.down = self._button("thumb-down", "Bad reply",
                                 "Thumbs down: fewer replies like this one")
        self.up.clicked.connect(lambda: self.set_vote(0 if self.vote == 1 else 1, emit=True))
        self.down.clicked.connect(lambda: self.set_vote(0 if self.vote == -1 else -1,
                                                        emit=True))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.up)
        row.addWidget(self.down)

    def _button(self, name: str, accessible: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setObjectName("thumbButton")
        b.setIcon(icon(name))
        b.setIconSize(QSize(16, 16))
        b.setCheckable(True)
        b.setAutoRaise(True)
        b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        b.setAccessibleName(accessible)
        b.setToolTip(tip)
        return b

    def set_vote(self, vote: int, *, emit: bool = False) -> None:
        """Show ``vote`` (+1, -1, 0); ``emit``: the person did it, so say so."""
        self.vote = vote
        self.up.setChecked(vote == 1)
        self.down.setChecked(vote == -1)
        self.up.setAccessibleDescription("on" if vote == 1 else "")
        self.down.setAccessibleDescription("on" if vote == -1 else "")
        if emit:
            self.voted.emit(vote)
