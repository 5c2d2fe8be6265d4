"""The privacy ledger's training runs as a table: date, memories, steps, σ, ε and status.

Runs are few (one a night at most), so a QTableWidget is enough. A run begun and never
completed is charged in full; the status column says so in its tooltip.
"""

from __future__ import annotations

import math
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

RUN_COLUMNS = ("Date", "Memories", "Steps", "σ", "ε", "Status")
CHARGED = ("Charged in full: the ledger recorded all the planned steps before training began, "
           "so it never reports less than may have been spent")
RUN_TIPS = ("When the run began", "Memories the run trained on", "Training steps",
            "The noise multiplier: more noise, more privacy", "ε this run spent per memory",
            "How the run ended")


def eps_text(x: float | None) -> str:
    """An ε for people: two decimals, or ∞ for a non-private run."""
    if x is None:
        return "–"
    return "∞ (non-private)" if math.isinf(x) else f"{x:.2f}"


def when(iso: str | None) -> str:
    """An ISO time as a short local date and time."""
    if not iso:
        return "just now"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return t.strftime("%d %b %H:%M" if t.year == datetime.now().year else "%d %b %Y %H:%M")

class RunsTable(QGroupBox):
    """The runs, newest first, or a sentence saying there are none yet."""

    def __init__(self, parent=None) -> None:
        super().__init__("Training runs (the privacy ledger)", parent)
        v = QVBoxLayout(self)
        self.table = QTableWidget(0, len(RUN_COLUMNS))
        self.table.setAccessibleName("Training runs")
        self.table.setHorizontalHeaderLabels(RUN_COLUMNS)
        for col, tip in enumerate(RUN_TIPS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setMinimumHeight(130)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(RUN_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        self.empty = QLabel("No training run yet. Train now, or let the nightly retrain run, "
                            "and each run appears here with what it spent.")
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)
        v.addWidget(self.empty)
        v.addWidget(self.table)

    def set_runs(self, runs: list[dict], *, going: bool = False) -> None:
        """``runs``: the ledger summary's runs, oldest first; ``going``: a run is going now."""
        self.empty.setVisible(not runs)
        self.table.setVisible(bool(runs))
        self.table.setRowCount(len(runs))
        for row, r in enumerate(reversed(runs)):  # newest first
            tip = "Completed: it spent what it planned"
            if r["status"] == "begun":
                status = "going" if going and row == 0 else "interrupted"
                tip = CHARGED + ("" if status == "going" else
                                 ". The next run resumes it, without a second charge")
            elif r["steps_done"] is not None and r["steps_done"] < r["steps"]:
                status, tip = "stopped early", CHARGED
            else:
                status = r["outcome"] or "completed"
            if not r["private"]:
                status += " · non-private"
                tip += ". Non-private: no differential-privacy guarantee for its memories"
            steps = (f"{r['steps']:,}" if r["steps_done"] in (None, r["steps"]) else
                     f"{r['steps_done']:,} of {r['steps']:,}")
            cells = (when(r["date"]), f"{r['records']:,}", steps, f"{r['sigma']:.3g}",
                     eps_text(r["epsilon"]), status)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 0 < col < 5:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                          Qt.AlignmentFlag.AlignVCenter)
                if col == len(cells) - 1:
                    item.setToolTip(tip)
                self.table.setItem(row, col, item)

