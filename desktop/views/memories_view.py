"""The Memories view: search, filters, the lazy table, and the emotions chart (layout only).

MemoriesController fills it and listens to its signals; nothing here touches the core.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.widgets.charts import BarChart, LineChart

ANY_DAY = QDate(2000, 1, 1)  # the date edits' minimum, shown as "Any"
SOURCES = (("All sources", None), ("Voice", "voice"), ("Typed", "text"),
           ("Imported", "import"), ("Chat", "chat"))


def _date_edit(name: str, tip: str) -> QDateEdit:
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setMinimumDate(ANY_DAY)
    edit.setSpecialValueText("Any")  # shown at the minimum: no limit on this side
    edit.setDate(ANY_DAY)
    edit.setAccessibleName(name)
    edit.setToolTip(tip)
    return edit


class MemoriesView(QWidget):
    filters_changed = Signal()  # a combo or date changed
    search_edited = Signal(str)
    play_clicked = Signal()
    edit_clicked = Signal()
    forget_clicked = Signal()
    clear_filters_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Memories")
        title = QLabel("Memories")
        title.setObjectName("viewTitle")
        self.count = QLabel("")
        self.count.setObjectName("muted")
        self.count.setAccessibleName("Number of memories")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addSpacing(12)
        head.addWidget(self.count, 0, Qt.AlignmentFlag.AlignBottom)
        head.addStretch(1)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by meaning or words (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search memories")
        self.search.setToolTip("Finds memories by what they mean and by their words; "
                               "the best matches come first. Esc clears.")
        self.search.textChanged.connect(self.search_edited)
        self.source = QComboBox()
        for text, value in SOURCES:
            self.source.addItem(text, value)
        self.source.setAccessibleName("Source filter")
        self.source.setToolTip("Only memories that came from this source")
        self.emotion = QComboBox()
        self.emotion.addItem("All emotions", None)
        self.emotion.setAccessibleName("Emotion filter")
        self.emotion.setToolTip("Only memories tagged with this emotion")
        self.since = _date_edit("From date", "Only memories from this day on (Any: no limit)")
        self.until = _date_edit("To date", "Only memories up to this day (Any: no limit)")
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Clear the search and every filter")
        self.clear.setAccessibleName("Clear search and filters")
        self.clear.clicked.connect(self.clear_filters_clicked)
        for w in (self.source, self.emotion):
            w.currentIndexChanged.connect(self.filters_changed)
        for w in (self.since, self.until):
            w.dateChanged.connect(self.filters_changed)
        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(self.source, 1)
        bar.addWidget(self.emotion, 1)
        bar.addWidget(QLabel("From"))
        bar.addWidget(self.since)
        bar.addWidget(QLabel("to"))
        bar.addWidget(self.until)
        bar.addWidget(self.clear)

        self.table = QTableView()
        self.table.setAccessibleName("Memories table")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.horizontalHeader().setHighlightSections(False)
        self.table.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.setToolTip("Enter or F2 edits, Delete forgets, Ctrl+P plays the recording")
        self.empty = QLabel()
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.table)
        self.list_stack.addWidget(self.empty)

        self.play = QPushButton("Play")
        self.play.setToolTip("Play the selected memory's recording (Ctrl+P); again to stop")
        self.play.setAccessibleName("Play recording")
        self.play.setShortcut("Ctrl+P")
        self.play.setCheckable(True)
        self.edit = QPushButton("Edit…")
        self.edit.setToolTip("Change the selected memory's words (Enter or F2)")
        self.edit.setAccessibleName("Edit memory")
        self.forget = QPushButton("Forget…")
        self.forget.setObjectName("danger")
        self.forget.setToolTip("Delete the selected memories and their recordings (Delete)")
        self.forget.setAccessibleName("Forget memories")
        self.selection = QLabel("")
        self.selection.setObjectName("muted")
        self.play.clicked.connect(self.play_clicked)
        self.edit.clicked.connect(self.edit_clicked)
        self.forget.clicked.connect(self.forget_clicked)
        actions = QHBoxLayout()
        actions.addWidget(self.selection, 1)
        for b in (self.play, self.edit, self.forget):
            actions.addWidget(b)

        browse = QWidget()
        bl = QVBoxLayout(browse)
        bl.setContentsMargins(0, 8, 0, 0)
        bl.addLayout(bar)
        bl.addWidget(self.list_stack, 1)
        bl.addLayout(actions)

        self.mood = LineChart("Valence and arousal per day")
        self.mood.empty_text = "No emotions yet: they appear as you talk, type or import"
        self.labels = BarChart("Share of each emotion per day")
        self.labels.empty_text = self.mood.empty_text
        self.chart_note = QLabel("From your own words and voice; Persona's replies are not "
                                 "counted. Valence: −1 unpleasant to +1 pleasant; arousal: "
                                 "0 calm to 1 excited.")
        self.chart_note.setObjectName("muted")
        self.chart_note.setWordWrap(True)
        charts = QWidget()
        cl = QVBoxLayout(charts)
        cl.setContentsMargins(0, 8, 0, 0)
        cl.addWidget(self.mood, 1)
        cl.addWidget(self.labels, 1)
        cl.addWidget(self.chart_note)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(browse, "Browse")
        self.tabs.addTab(charts, "Emotions over time")
        self.tabs.setAccessibleName("Memories or emotion charts")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 12)
        lay.addLayout(head)
        lay.addWidget(self.tabs, 1)
        self.set_selection(0, False)

    # ------------------------------------------------------------------ filling
    def fit_columns(self) -> None:
        """Time, source and emotion as wide as their contents; the text takes the rest."""
        header = self.table.horizontalHeader()
        for col in (0, 1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)

    def set_emotions(self, labels: list[str]) -> None:
        """The emotion filter's choices, keeping the current one."""
        current = self.emotion.currentData()
        self.emotion.blockSignals(True)
        self.emotion.clear()
        self.emotion.addItem("All emotions", None)
        for label in sorted(set(labels) | ({current} if current else set())):
            self.emotion.addItem(label.capitalize(), label)
        self.emotion.setCurrentIndex(max(0, self.emotion.findData(current)))
        self.emotion.blockSignals(False)

    def filter_values(self) -> dict:
        """source, emotion, since, until as chosen (None: no limit)."""
        def day(edit: QDateEdit) -> date | None:
            d = edit.date()
            return None if d == ANY_DAY else date(d.year(), d.month(), d.day())

        return {"source": self.source.currentData(), "emotion": self.emotion.currentData(),
                "since": day(self.since), "until": day(self.until)}

    def reset_filters(self) -> None:
        for w in (self.source, self.emotion, self.since, self.until, self.search):
            w.blockSignals(True)
        self.source.setCurrentIndex(0)
        self.emotion.setCurrentIndex(0)
        self.since.setDate(ANY_DAY)
        self.until.setDate(ANY_DAY)
        self.search.clear()
        for w in (self.source, self.emotion, self.since, self.until, self.search):
            w.blockSignals(False)

    def set_count(self, text: str) -> None:
        self.count.setText(text)

    def show_empty(self, message: str | None) -> None:
        """A message instead of the table (None shows the table)."""
        if message:
            self.empty.setText(message)
        self.list_stack.setCurrentIndex(1 if message else 0)

    def set_selection(self, n: int, has_recording: bool) -> None:
        self.selection.setText(f"{n} selected" if n > 1 else "")
        self.edit.setEnabled(n == 1)
        self.forget.setEnabled(n >= 1)
        self.play.setEnabled(self.play.isChecked() or (n == 1 and has_recording))

    def set_playing(self, playing: bool) -> None:
        self.play.setChecked(playing)
        self.play.setText("Stop" if playing else "Play")
