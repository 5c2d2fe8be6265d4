"""The memories a reply was answered from: date, emotion and text (layout only)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from persona.desktop.widgets.emotion_chip import GLYPHS, emotion_tooltip


class SourcesDialog(QDialog):
    def __init__(self, question: str, rows: list[dict], parent=None) -> None:
        """``rows``: dicts with date, emotion, valence, arousal, confidence, text, score."""
        super().__init__(parent)
        self.setWindowTitle("Memories behind this reply")
        self.resize(720, 360)
        intro = QLabel(f"Persona answered <i>{_escape(question)}</i> from these memories, "
                       "best match first:" if rows else
                       "This reply used no memories (none matched the question).")
        intro.setWordWrap(True)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Date", "Emotion", "Memory"])
        self.table.setAccessibleName("Retrieved memories")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for i, r in enumerate(rows):
            emo = QTableWidgetItem(f"{GLYPHS.get(r['emotion'], '●')} {r['emotion']}")
            emo.setToolTip(emotion_tooltip(r["emotion"], r["valence"], r["arousal"],
                                           r["confidence"]))
            text = QTableWidgetItem(r["text"])
            text.setToolTip(f"relevance {r['score']:.2f}")
            for col, item in enumerate((QTableWidgetItem(r["date"]), emo, text)):
                self.table.setItem(i, col, item)
        self.table.resizeRowsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
