"""The Settings view's names box (layout only): "Suggest names from my memories", the
candidates with checkboxes, and "Redact the ticked names". NamesController does the work."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from persona.desktop.widgets.buttons import button


class NamesBox(QGroupBox):
    suggest_clicked = Signal()
    confirm_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("Names to redact", parent)
        note = QLabel("Names are replaced by [NAME] before Persona trains on your words. "
                      "Persona can suggest names it sees in your memories; tick the real ones.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        self.listed = QLabel("")
        self.listed.setWordWrap(True)
        self.listed.setAccessibleName("Names redacted now")
        self.suggest = button("Suggest names from my memories", on_click=self.suggest_clicked,
                              tip="Look for names in your memories (nothing is changed)",
                              name="Suggest names from my memories")
        self.candidates = QListWidget()
        self.candidates.setAccessibleName("Suggested names")
        self.candidates.setVisible(False)
        self.confirm = button("Redact the ticked names", on_click=self.confirm_clicked,
                              tip="Add the ticked names to the names redacted before training",
                              name="Redact the ticked names")
        self.confirm.setVisible(False)
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Names status")
        row = QHBoxLayout()
        row.addWidget(self.suggest)
        row.addWidget(self.confirm)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(self.listed)
        lay.addLayout(row)
        lay.addWidget(self.candidates)
        lay.addWidget(self.status)

    def show_listed(self, names: list[str]) -> None:
        self.listed.setText("Redacted now: " + (", ".join(names) if names else "no names yet"))

    def show_candidates(self, candidates: list[tuple[str, int]]) -> None:
        """One unticked row per (name, times seen)."""
        self.candidates.clear()
        for name, count in candidates:
            item = QListWidgetItem(f"{name}  (seen {count} times)")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.candidates.addItem(item)
        self.candidates.setVisible(bool(candidates))
        self.confirm.setVisible(bool(candidates))
        self.status.setText(f"{len(candidates)} possible names found." if candidates else
                            "No new names found in your memories.")

    def checked_names(self) -> list[str]:
        items = (self.candidates.item(i) for i in range(self.candidates.count()))
        return [it.data(Qt.ItemDataRole.UserRole) for it in items
                if it.checkState() == Qt.CheckState.Checked]

    def drop_checked(self) -> None:
        """Remove the ticked rows (they are listed now)."""
        for i in reversed(range(self.candidates.count())):
            if self.candidates.item(i).checkState() == Qt.CheckState.Checked:
                self.candidates.takeItem(i)
        self.candidates.setVisible(self.candidates.count() > 0)
        self.confirm.setVisible(self.candidates.count() > 0)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.suggest.setEnabled(not busy)
        self.confirm.setEnabled(not busy)
        if text:
            self.status.setText(text)
