""""What I can answer well": the person's topics, each with how much Persona knows of it.

Layout only: ``show_topics`` takes the rows as plain data (a name, a level and a sentence, made
by core/memory/topics.py) and ``TopicsController`` fills it.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from persona.desktop.widgets.buttons import button

# How full each level's bar is drawn (of five blocks), and its words.
LEVEL_BLOCKS = {"a lot": 5, "some": 3, "little": 1}
MEASURE = "Test me"


class TopicsPanel(QGroupBox):
    refresh_clicked = Signal()
    measure_clicked = Signal()  # "Test me" (or Cancel while it runs)

    def __init__(self, parent=None) -> None:
        super().__init__("What I can answer well", parent)
        self.setObjectName("topicsPanel")
        self.setAccessibleName("What I can answer well")
        self.summary = QLabel("Grouping your memories into topics …")
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)
        self.refresh = button("Refresh", on_click=self.refresh_clicked,
                              tip="Group your memories into topics again",
                              name="Refresh the topics")
        self.measure = button(MEASURE, on_click=self.measure_clicked,
                              tip="Ask a few questions made from each topic's memories and "
                                  "count the right answers (uses the language model)",
                              name="Test how well Persona knows each topic")
        head = QHBoxLayout()
        head.addWidget(self.summary, 1)
        head.addWidget(self.measure, 0, Qt.AlignmentFlag.AlignTop)
        head.addWidget(self.refresh, 0, Qt.AlignmentFlag.AlignTop)
        self._rows = QWidget()
        self._grid = QGridLayout(self._rows)
        self._grid.setContentsMargins(0, 4, 0, 0)
        self._grid.setHorizontalSpacing(12)
        self._grid.setVerticalSpacing(6)
        self._grid.setColumnStretch(2, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(self._rows)
        self.rows: list[tuple[QLabel, QLabel, QLabel]] = []

    def show_topics(self, rows: Sequence[tuple[str, str, str, str]], summary: str) -> None:
        """``rows``: (name, level, sentence, tooltip) per topic, largest first."""
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.rows = []
        for r, (name, level, sentence, tip) in enumerate(rows):
            title = QLabel(name)
            title.setObjectName("topicName")
            bar = QLabel("●" * LEVEL_BLOCKS.get(level, 1) + "○" * (5 - LEVEL_BLOCKS.get(level, 1)))
            bar.setObjectName("topicLevel")
            bar.setToolTip(f"I know {level} about this")
            bar.setAccessibleName(f"Knows {level}")
            text = QLabel(sentence)
            text.setWordWrap(True)
            text.setObjectName("muted")
            for w in (title, bar, text):
                w.setToolTip(tip if w is not bar else bar.toolTip())
                self._grid.addWidget(w, r, (title, bar, text).index(w),
                                     Qt.AlignmentFlag.AlignTop)
            self.rows.append((title, bar, text))
        self.summary.setText(summary)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.refresh.setEnabled(not busy)
        self.measure.setEnabled(not busy)
        if text:
            self.summary.setText(text)

    def set_measuring(self, on: bool, text: str = "") -> None:
        """While the test runs its button cancels it; Refresh waits."""
        self.measure.setText("Cancel" if on else MEASURE)
        self.refresh.setEnabled(not on)
        if text:
            self.summary.setText(text)
