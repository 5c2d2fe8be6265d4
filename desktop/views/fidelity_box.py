"""The fidelity report and the membership audit in the Privacy & training view (layout only).

FidelityController (desktop/controllers/fidelity_controller.py) fills it: the last report
(`persona eval`: style similarity persona/base vs the person, memory questions answered) and
the last membership audit of the adapter in use (its AUC), and runs a new evaluation behind
Evaluate, with progress and Cancel.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QPushButton,
)

from persona.desktop.views.runs_table import when

AUDIT_TIP = ("After each training run that makes a new persona, Persona attacks it the way "
             "an outsider could: it guesses which memories were trained on from how well the "
             "persona predicts them. AUC 0.5 means the guess is no better than chance.")
STYLE_TIP = ("How alike the style of what the persona writes as you is to your own held-out "
             "writing (word and sentence length, vocabulary, function words, punctuation): "
             "1 is the same style. The base model without your adapter is the baseline.")


def _num(x, fmt: str = ".2f") -> str:
    return "–" if x is None else format(x, fmt)


class FidelityBox(QGroupBox):
    evaluate_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__("How much it is you, and what it gives away", parent)
        grid = QGridLayout(self)
        self.report = QLabel("")
        self.report.setWordWrap(True)
        self.report.setToolTip(STYLE_TIP)
        self.report.setAccessibleName("Fidelity report")
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.audit = QLabel("")
        self.audit.setWordWrap(True)
        self.audit.setToolTip(AUDIT_TIP)
        self.audit.setAccessibleName("Membership audit")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Evaluation progress")
        self.progress_text = QLabel("")
        self.progress_text.setObjectName("muted")
        self.evaluate = QPushButton("&Evaluate")
        self.evaluate.setToolTip("Let the persona and the base model write as you and answer "
                                 "questions from your memories (a minute or two)")
        self.evaluate.setAccessibleName("Evaluate the persona")
        self.cancel = QPushButton("Cancel")
        self.cancel.setAccessibleName("Cancel the evaluation")
        self.evaluate.clicked.connect(self.evaluate_clicked)
        self.cancel.clicked.connect(self.cancel_clicked)
        grid.addWidget(self.report, 0, 0, 1, 3)
        grid.addWidget(self.audit, 1, 0, 1, 3)
        grid.addWidget(self.progress, 2, 0)
        grid.addWidget(self.evaluate, 2, 1)
        grid.addWidget(self.cancel, 2, 2)
        grid.addWidget(self.progress_text, 3, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        self.set_running(False)
        self.set_report(None)
        self.set_audit({})

    def set_running(self, on: bool, text: str = "") -> None:
        self.evaluate.setEnabled(not on)
        self.cancel.setEnabled(on)
        self.progress.setVisible(on)
        self.progress_text.setVisible(on)
        self.progress_text.setText(text)
        if on:
            self.progress.setRange(0, 0)

    def set_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress_text.setText(text)

    def set_report(self, report: dict | None) -> None:
        """``report``: core.evaluate.fidelity.FidelityReport.to_dict(), or None."""
        if not report:
            self.report.setText("No fidelity report yet: Evaluate shows how much the persona "
                                "writes like you and what it knows of your memories.")
            return
        asked = report.get("questions") or []
        right = sum(bool(q.get("correct")) for q in asked)
        qa = (f"{right} of {len(asked)} questions from your memories answered right"
              if asked else "no questions could be made from your memories yet")
        persona, base = report.get("style_similarity_persona"), report.get("style_similarity_base")
        self.report.setText(
            f"Style like yours (1 = the same): persona {_num(persona)}, base model {_num(base)}, "
            f"speaking as you {_num(report.get('style_similarity_as_me'))}.\n{qa.capitalize()}."
            f"\nEvaluated {when(report.get('created'))}"
            + (f" (adapter {report['adapter']})." if report.get("adapter") else
               " (no adapter yet: the base model)."))

    def set_audit(self, fields: dict) -> None:
        """``fields``: core.evaluate.membership.audit_fields()."""
        a = fields.get("membership_audit")
        if not a:
            self.audit.setText("Membership audit: none yet for the persona in use; it runs "
                               "after each training run that makes a new persona.")
            return
        self.audit.setText(
            f"Membership audit: an attacker guessing which memories were trained on scores "
            f"AUC {a['membership_auc']:.2f} (0.5 = chance) — {a['members']} trained vs "
            f"{a['nonmembers']} held-out memories, adapter {a['adapter']}.")
