"""Privacy & training: the ledger, the last evaluation, the nightly schedule, Train now.

Layout only: the controller (desktop/controllers/privacy_controller.py) feeds it the ledger's
summary (privacy/report.py build_summary), the current adapter's meta, the schedule status
and the training run's progress, and hears about the buttons through the signals below.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from persona.desktop.views.fidelity_box import FidelityBox
from persona.desktop.views.runs_table import RunsTable, eps_text, when
from persona.desktop.widgets.charts import BarChart, Series

EPSILON_TEXT = (
    "Persona learns your way of speaking by training on your memories, on this device only. "
    "ε (epsilon) measures how much one training run could reveal about any single memory: "
    "lower is more private. Each memory has a lifetime budget; once it is spent, that "
    "memory is never trained on again.")


def _label(text: str = "", name: str | None = None, *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    if name:
        label.setObjectName(name)
    return label


def _button(text: str, tip: str, name: str | None = None) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.setAccessibleName(text.replace("&", ""))
    if name:
        button.setObjectName(name)
    return button


class PrivacyView(QWidget):
    train_clicked = Signal()
    cancel_clicked = Signal()
    install_clicked = Signal()
    remove_clicked = Signal()
    hour_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("privacyView")
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.setSpacing(14)
        lay.addWidget(_label("Privacy & training", "viewTitle"))
        lay.addWidget(_label(EPSILON_TEXT, "hint"))
        lay.addWidget(self._training_card())
        lay.addLayout(self._stats_row())
        charts = QHBoxLayout()
        charts.setSpacing(16)
        self.histogram = BarChart("Memories by ε spent")
        self.histogram.empty_text = "No memory has been trained on yet"
        self.budget_chart = BarChart("Budget left (ε per memory)")
        self.budget_chart.setToolTip("What the most-spent memory, the median memory and a new "
                                     "memory can still spend")
        charts.addWidget(self.histogram, 3)
        charts.addWidget(self.budget_chart, 2)
        lay.addLayout(charts)
        lower = QHBoxLayout()
        lower.setSpacing(16)
        self.runs_box = RunsTable()
        self.runs, self.runs_empty = self.runs_box.table, self.runs_box.empty
        lower.addWidget(self.runs_box, 3)
        side = QVBoxLayout()
        side.setSpacing(12)
        side.addWidget(self._evaluation_box())
        self.fidelity = FidelityBox()
        side.addWidget(self.fidelity)
        side.addWidget(self._schedule_box())
        side.addStretch(1)
        lower.addLayout(side, 2)
        lay.addLayout(lower)
        self.notes = _label("", "muted")
        lay.addWidget(self.notes)
        lay.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_idle("No training run is going.")

    # ------------------------------------------------------------------ building
    def _training_card(self) -> QFrame:
        card = QFrame()
        card.setObjectName("trainCard")
        grid = QGridLayout(card)
        grid.setContentsMargins(16, 12, 16, 12)
        self.train_state = _label("", "trainState")
        self.train_state.setAccessibleName("Training status")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Training progress")
        self.progress.setFormat("step %v of %m")
        self.progress_detail = _label("", "muted")
        self.train_button = _button("&Train now", "Train the persona on your memories now, "
                                    "in the background (Ctrl+T). It spends privacy budget.",
                                    "primary")
        self.train_button.setShortcut(QKeySequence("Ctrl+T"))
        self.cancel_button = _button("&Cancel training", "Stop the run at the next step "
                                     "(Ctrl+Shift+T). What it was charged stays in the "
                                     "ledger; the current persona is kept.")
        self.cancel_button.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.train_button.clicked.connect(self.train_clicked)
        self.cancel_button.clicked.connect(self.cancel_clicked)
        grid.addWidget(self.train_state, 0, 0)
        grid.addWidget(self.train_button, 0, 1)
        grid.addWidget(self.cancel_button, 0, 2)
        grid.addWidget(self.progress, 1, 0, 1, 3)
        grid.addWidget(self.progress_detail, 2, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        return card

    def _stats_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(12)
        self.stats: dict[str, QLabel] = {}
        for key, caption, tip in (
                ("runs", "training runs", "Runs recorded in the privacy ledger"),
                ("records", "memories trained on", "Memories that have spent some budget"),
                ("exhausted", "at their budget", "Memories that are never trained on again"),
                ("private", "runs without a DP guarantee",
                 "Runs trained without differential privacy (ε = ∞)")):
            tile = QFrame()
            tile.setObjectName("statTile")
            tile.setToolTip(tip)
            v = QVBoxLayout(tile)
            v.setContentsMargins(12, 8, 12, 8)
            v.setSpacing(0)
            value = _label("–", "statValue", wrap=False)
            value.setAccessibleName(caption.capitalize())
            v.addWidget(value)
            v.addWidget(_label(caption, "muted", wrap=False))
            self.stats[key] = value
            row.addWidget(tile, 1)
        return row

    def _evaluation_box(self) -> QGroupBox:
        box = QGroupBox("Last evaluation")
        v = QVBoxLayout(box)
        self.evaluation = _label("", None)
        self.evaluation.setAccessibleName("Last evaluation")
        self.evaluation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.evaluation)
        return box

    def _schedule_box(self) -> QGroupBox:
        box = QGroupBox("Nightly retrain")
        grid = QGridLayout(box)
        self.schedule_state = _label("Checking the schedule …")
        self.schedule_state.setAccessibleName("Schedule status")
        self.hour = QSpinBox()
        self.hour.setRange(0, 23)
        self.hour.setSuffix(":00")
        self.hour.setAccessibleName("Retrain hour")
        self.hour.setToolTip("The hour of the night the retrain runs (local time)")
        self.hour.setKeyboardTracking(False)  # one change per finished edit, not per digit
        self.hour.valueChanged.connect(self.hour_changed)
        self.install_button = _button("&Install schedule", "Retrain every night at this hour, "
                                      "on mains power and at low priority")
        self.remove_button = _button("&Remove schedule", "Stop retraining at night")
        self.install_button.clicked.connect(self.install_clicked)
        self.remove_button.clicked.connect(self.remove_clicked)
        hour_label = QLabel("&Hour:")
        hour_label.setBuddy(self.hour)
        grid.addWidget(self.schedule_state, 0, 0, 1, 4)
        grid.addWidget(hour_label, 1, 0)
        grid.addWidget(self.hour, 1, 1)
        grid.addWidget(self.install_button, 1, 2)
        grid.addWidget(self.remove_button, 1, 3)
        grid.setColumnStretch(1, 1)
        return box

    # ------------------------------------------------------------------ training state
    def _state(self, text: str, *, train: bool, cancel: bool, progress: bool) -> None:
        self.train_state.setText(text)
        self.train_button.setEnabled(train)
        self.cancel_button.setEnabled(cancel)
        self.progress.setVisible(progress)
        self.progress_detail.setVisible(progress)

    def show_idle(self, text: str, *, can_train: bool = True) -> None:
        self._state(text, train=can_train, cancel=False, progress=False)

    def show_running(self, text: str, *, cancellable: bool = True) -> None:
        """A run this window follows: progress and Cancel."""
        self._state(text, train=False, cancel=cancellable, progress=True)
        if self.progress.maximum() == 0 or not self.progress_detail.text():
            self.progress.setRange(0, 0)  # busy until the first step is reported
            self.progress_detail.setText("Loading the model and your memories …")

    def show_other_run(self, pid: int | None, started: str | None) -> None:
        """A run started by another process (the nightly job, a terminal): shown, not fought."""
        self.show_idle(f"A training run started by another process (pid {pid or 'unknown'}) "
                       f"is going — started at {when(started)}. Train now is available "
                       "again when it ends.", can_train=False)

    def set_progress(self, step: int, steps: int, loss: float | None, epsilon: float) -> None:
        self.progress.setRange(0, max(1, steps))
        self.progress.setValue(step)
        loss_text = "–" if loss is None or math.isnan(loss) else f"{loss:.3f}"
        self.progress_detail.setText(f"Step {step} of {steps} · loss {loss_text} · "
                                     f"ε spent by this run so far {eps_text(epsilon)}")

    def reset_progress(self) -> None:
        self.progress.setRange(0, 0)
        self.progress_detail.setText("")

    # ------------------------------------------------------------------ the ledger
    def set_summary(self, summary: dict, *, going: bool = False) -> None:
        """``summary``: `persona privacy --json`; ``going``: a training run is going now."""
        runs = summary["runs"]
        nonprivate = sum(not r["private"] for r in runs)
        self.stats["runs"].setText(f"{len(runs):,}")
        self.stats["records"].setText(f"{summary['records_tracked']:,}")
        self.stats["exhausted"].setText(f"{summary['records_exhausted']:,}")
        self.stats["private"].setText(f"{nonprivate}")
        self.stats["private"].setProperty("warning", bool(nonprivate))
        self.stats["private"].style().polish(self.stats["private"])
        budget = summary["budget"]
        bins = summary["epsilon_distribution"]["histogram"]
        labels = [f"> {b['from']:g}" if math.isinf(b["to"]) else f"{b['from']:g}–{b['to']:g}"
                  for b in bins]
        self.histogram.title = f"Memories by ε spent (lifetime budget {budget:g})"
        self.histogram.set_data(labels, [Series("memories", [b["records"] for b in bins])]
                                if summary["records_tracked"] else [])
        left = summary["budget_left"]
        self.budget_chart.set_data(["most spent", "median", "new"],
                                   [Series("ε left", [left["most_spent_record"],
                                                      left["median_record"], budget])],
                                   y_range=(0.0, budget))
        self.runs_box.set_runs(runs, going=going)
        self.notes.setText("\n".join(summary["notes"]))
        self.notes.setVisible(bool(summary["notes"]))

    def set_evaluation(self, meta) -> None:
        """``meta``: the current adapter's AdapterMeta, or None for the base model."""
        if meta is None or meta.perplexity is None:
            self.evaluation.setText("No trained persona yet: answers come from the base model. "
                                    "Train now to make one.")
            return
        base, mine = meta.base_perplexity, meta.perplexity
        gain = "" if not base else f" ({(base - mine) / base:.1%} better)" if mine <= base \
            else f" ({(mine - base) / base:.1%} worse)"
        self.evaluation.setText(
            f"Held-out perplexity (lower is better): base model {base:.2f} → your persona "
            f"{mine:.2f}{gain}.\nAdapter {meta.version}, trained {when(meta.created)}"
            f"{'' if meta.private else ' · NON-PRIVATE'}.")

    # ------------------------------------------------------------------ the schedule
    def set_schedule(self, status: dict | None, hour: int, message: str = "") -> None:
        """``status``: `persona schedule status --json`; None while it is being read."""
        self.hour.blockSignals(True)
        self.hour.setValue(hour)
        self.hour.blockSignals(False)
        if status is None:
            self.schedule_state.setText(message or "Checking the schedule …")
            return
        if status["installed"]:
            text = (f"Scheduled every night at {status['hour']:02d}:{status['minute']:02d}; "
                    f"next run {when(status['next_run'])}.")
            if status.get("active") is False:
                text += " The service manager does not run it yet."
        else:
            text = "Not scheduled: Persona learns only when you press Train now."
        if status.get("last_log_line"):
            text += f"\nLast nightly log: {status['last_log_line']}"
        if message:
            text += f"\n{message}"
        self.schedule_state.setText(text)
        self.install_button.setText("Re&install schedule" if status["installed"]
                                    else "&Install schedule")
        self.remove_button.setEnabled(bool(status["installed"]))
