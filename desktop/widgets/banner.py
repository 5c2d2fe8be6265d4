"""A message bar at the top of the window: errors and notices in plain words, dismissable.

Errors from the core appear here (what went wrong, what to do) instead of a traceback
dialog; the window stays usable behind them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


class MessageBanner(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setAccessibleName("Message")
        self._title = QLabel()
        self._title.setObjectName("bannerTitle")
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Dismiss")
        close.setAccessibleName("Dismiss message")
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        lay.addWidget(self._title)
        lay.addWidget(self._text, 1)
        lay.addWidget(close)
        self._timer = QTimer(self, singleShot=True, timeout=self.hide)
        self.hide()

    @property
    def text(self) -> str:
        return self._text.text()

    @property
    def title(self) -> str:
        return self._title.text()

    def show_error(self, title: str, message: str) -> None:
        self._show("error", title, message, timeout_ms=0)

    def show_notice(self, message: str, timeout_ms: int = 6000) -> None:
        self._show("notice", "", message, timeout_ms)

    def _show(self, kind: str, title: str, message: str, timeout_ms: int) -> None:
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self._title.setText(f"<b>{title}</b>" if title else "")
        self._title.setVisible(bool(title))
        self._text.setText(message)
        self.show()
        self._timer.stop()
        if timeout_ms:
            self._timer.start(timeout_ms)
