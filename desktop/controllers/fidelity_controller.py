"""The fidelity report in the Privacy & training view: shows the last one and the membership
audit, and runs `persona eval`'s style and memory questions on a worker, with progress and
Cancel (core/evaluate/fidelity.py).

The evaluation loads its own Pipeline (its own copy of the language model), so it never
shares a model with a reply being spoken in Talk.
"""

from __future__ import annotations

from persona.desktop.views.fidelity_box import FidelityBox
from persona.desktop.workers.task import Task, start_task


class FidelityController:
    def __init__(self, ctx, box: FidelityBox) -> None:
        self.ctx, self.box = ctx, box
        self.task: Task | None = None
        self.options = None  # core.evaluate.fidelity.FidelityOptions; None: `persona eval`'s
        box.evaluate_clicked.connect(self.evaluate)
        box.cancel_clicked.connect(self.cancel)

    def show(self, report: dict | None, audit: dict) -> None:
        """The last report (None: none yet) and audit fields, from the privacy snapshot."""
        if self.task is None:
            self.box.set_report(report)
        self.box.set_audit(audit)

    def evaluate(self) -> None:
        if self.task is not None:
            return
        from persona.core.evaluate.fidelity import run_fidelity, save_report

        home, settings, options = self.ctx.home, self.ctx.settings, self.options

        def run(task: Task):
            report = run_fidelity(home, settings, options, progress=task.progress,
                                  should_stop=lambda: task.cancelled)
            if report is not None:
                save_report(home, report)
            return report

        self.box.set_running(True, "Loading the models …")
        self.task = start_task(run, name="The evaluation", on_result=self._done,
                               on_error=self._failed, on_progress=self.box.set_progress,
                               on_finished=self._finished)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.box.set_running(True, "Stopping after this step …")
            self.box.cancel.setEnabled(False)

    def _done(self, report) -> None:
        if report is None:
            self.ctx.notice.emit("Evaluation cancelled; the last report stays.")
            return
        self.box.set_report(report.to_dict())
        self.ctx.notice.emit("Evaluation finished.")

    def _failed(self, message: str) -> None:
        self.ctx.show_error(message, "The evaluation failed")

    def _finished(self) -> None:
        self.task = None
        self.box.set_running(False)
