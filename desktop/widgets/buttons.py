"""Buttons made the same way everywhere: a tooltip, an accessible name, a shortcut."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QPushButton


def button(text: str, *, tip: str, name: str, on_click: Callable | None = None,
           shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
           object_name: str | None = None, checkable: bool = False) -> QPushButton:
    """A push button with ``tip`` as tooltip and ``name`` for screen readers."""
    b = QPushButton(text)
    b.setToolTip(tip)
    b.setAccessibleName(name)
    if object_name:
        b.setObjectName(object_name)
    if checkable:
        b.setCheckable(True)
    if shortcut is not None:
        b.setShortcut(QKeySequence(shortcut))
    if on_click is not None:
        b.clicked.connect(on_click)
    return b
