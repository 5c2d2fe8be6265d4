"""Two replies side by side in the conversation: the person picks the better one (or skips).

Keys while the card has focus: 1 picks A, 2 picks B, Esc skips. ``picked`` says "a", "b" or
"" (skipped); the card then shows the outcome and its buttons are disabled.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QVBoxLayout


class ChoiceCard(QFrame):
    picked = Signal(str)

    def __init__(self, question: str, a: str, b: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("choiceCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Which reply do you prefer?")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        title = QLabel(f"Which reply to “{question}” do you prefer?")
        title.setWordWrap(True)
        title.setObjectName("choiceTitle")
        self.outcome = QLabel("Your pick teaches Persona how you like replies; 1, 2 or Esc.")
        self.outcome.setObjectName("muted")
        self.outcome.setWordWrap(True)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        self.texts, self.buttons = [], []
        for col, (key, which, text) in enumerate((("A", "a", a), ("B", "b", b))):
            label = QLabel(text)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setAccessibleName(f"Reply {key}")
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            button = QPushButton(f"{key} is better ({col + 1})")
            button.setAccessibleName(f"Reply {key} is better")
            button.clicked.connect(lambda _=False, w=which: self._pick(w))
            head = QLabel(f"Reply {key}")
            head.setObjectName("muted")
            grid.addWidget(head, 0, col)
            grid.addWidget(label, 1, col)
            grid.addWidget(button, 2, col)
            grid.setColumnStretch(col, 1)
            self.texts.append(label)
            self.buttons.append(button)
        self.skip = QPushButton("Skip")
        self.skip.setAccessibleName("Skip this choice")
        self.skip.clicked.connect(lambda: self._pick(""))
        grid.addWidget(self.skip, 3, 1, alignment=Qt.AlignmentFlag.AlignRight)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.addWidget(title)
        lay.addLayout(grid)
        lay.addWidget(self.outcome)
        for key, which in (("1", "a"), ("2", "b"), ("Esc", "")):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda w=which: self._pick(w))

    def _pick(self, which: str) -> None:
        if not self.skip.isEnabled():
            return  # already decided
        for b in (*self.buttons, self.skip):
            b.setEnabled(False)
        self.outcome.setText({"a": "You preferred A.", "b": "You preferred B."}.get(
            which, "Skipped; nothing was kept."))
        self.picked.emit(which)
