"""A scrolling page body: a frameless, resizable scroll area around a vertical layout."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def scroll_body(spacing: int = 12) -> tuple[QScrollArea, QVBoxLayout]:
    """(the scroll area to add to a page, the layout to fill with the page's groups)."""
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.setContentsMargins(0, 0, 12, 0)  # room for the scroll bar
    layout.setSpacing(spacing)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(body)
    return scroll, layout
