"""Privacy & training: keeps the view in step with the ledger, the adapter, the schedule and
the training run, and starts, follows and cancels runs.

The run itself is a `persona train --progress-jsonl` child process (desktop/workers/
training_job.py), shared through ``ctx.training_job`` so that closing the window can ask
whether to keep it going. A run started elsewhere (the nightly job, a terminal) holds the
home's training lock: the view shows it and disables Train now instead of fighting it. A
timer re-reads the home every two seconds, off the UI thread.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from persona.desktop.context import AppContext
from persona.desktop.controllers.privacy_data import PrivacySnapshot, load_snapshot
from persona.desktop.views.privacy_view import PrivacyView, eps_text
from persona.desktop.workers.task import start_task
from persona.desktop.workers.training_job import TrainingJob, TrainingOutcome, TrainingUpdate


class PrivacyController:
    REFRESH_MS = 2000

    def __init__(self, ctx: AppContext, view: PrivacyView) -> None:
        self.ctx, self.view = ctx, view
        job = getattr(ctx, "training_job", None)
        if job is None:
            job = ctx.training_job = TrainingJob(ctx.home, parent=ctx)
        self.job: TrainingJob = job
        self.snapshot: PrivacySnapshot | None = None
        self.schedule: dict | None = None
        self.confirm_box: QMessageBox | None = None
        self.confirm_train_button = None
        self._ours: set[int] = set()  # pids of runs this window started or followed
        self._loading = self._again = False
        self._last_error = ""
        from persona.desktop.controllers.fidelity_controller import FidelityController

        self.fidelity = FidelityController(ctx, view.fidelity)

        job.started.connect(self._job_started)
        job.progress.connect(self._job_progress)
        job.finished.connect(self._job_finished)
        view.train_clicked.connect(self.ask_to_train)
        view.cancel_clicked.connect(self.cancel)
        view.install_clicked.connect(self.install_schedule)
        view.remove_clicked.connect(self.remove_schedule)
        view.hour_changed.connect(self.set_hour)
        ctx.settings_changed.connect(self._settings_changed)
        self._timer = QTimer(view, interval=self.REFRESH_MS, timeout=self.refresh)
        self._timer.start()
        view.set_schedule(None, ctx.settings.retrain_hour)
        if job.running:
            self._job_started(job.pid)
        elif job.attach_if_running():  # a run an earlier window left going
            self.ctx.notice.emit("Following the training run that was left going.")
        self.refresh(force=True)
        self.refresh_schedule()

    def activate(self) -> None:
        self.refresh(force=True)
        self.refresh_schedule()

    def shutdown(self) -> None:
        self._timer.stop()

    # ------------------------------------------------------------------ reading the home
    def refresh(self, force: bool = False) -> None:
        """Re-read the ledger, adapter and lock (off the UI thread) if they changed."""
        if self._loading:
            # A read is in flight, maybe from before what changed: read again after it.
            self._again = self._again or force
            return
        self._loading, self._again = True, False
        home, settings = self.ctx.home, self.ctx.settings
        unless = None if force or self.snapshot is None else self.snapshot.signature
        start_task(lambda _t: load_snapshot(home, settings, unless=unless),
                   name="Reading the privacy ledger", on_result=self._show_snapshot,
                   on_error=self._read_failed, on_finished=self._loaded)

    def _loaded(self) -> None:
        self._loading = False
        if self._again:
            self.refresh(force=True)

    def _read_failed(self, message: str) -> None:
        if message != self._last_error:  # the timer must not repeat the same message
            self._last_error = message
            self.ctx.show_error(message, "The privacy ledger could not be read")

    def _show_snapshot(self, snap: PrivacySnapshot | None) -> None:
        if snap is None:
            return
        was_other = self._other_run() is not None
        self.snapshot, self._last_error = snap, ""
        self.view.set_summary(snap.summary, going=snap.running is not None)
        self.view.set_evaluation(snap.evaluation)
        self.fidelity.show(snap.fidelity, snap.audit or {})
        self._show_state()
        if was_other != (self._other_run() is not None):
            self.ctx.training_changed.emit()

    def training_text(self) -> str:
        """One line for the window's status bar: the run going, if any ('' when none)."""
        if self.job.running:
            u = self.job.last
            step = f" — step {u.step}/{u.steps}" if u is not None else ""
            return f"Training your persona{step}"
        other = self._other_run()
        if other is not None:
            return f"A training run is going (pid {other.get('pid')})"
        return ""

    def _other_run(self) -> dict | None:
        running = self.snapshot.running if self.snapshot else None
        if running is None or running.get("this_process") or running.get("pid") in self._ours:
            return None
        return running

    def _show_state(self) -> None:
        if self.job.running:
            stopping = self.job.cancelling
            self.view.show_running("Stopping at the next step …" if stopping else
                                   "Training your persona in the background …",
                                   cancellable=not stopping)
            return
        other = self._other_run()
        if other is not None:
            self.view.show_other_run(other.get("pid"), other.get("started"))
            return
        runs = self.snapshot.summary["runs"] if self.snapshot else []
        interrupted = any(r["status"] == "begun" for r in runs)
        self.view.show_idle("No training run is going." + (
            " The interrupted run resumes when you train next." if interrupted else ""))

    # ------------------------------------------------------------------ training
    def ask_to_train(self) -> None:
        """Train now, after saying what it spends (privacy budget cannot be given back)."""
        if self.job.running or self._other_run() is not None:
            return
        s = self.ctx.settings
        box = QMessageBox(QMessageBox.Icon.Question, "Train now?",
                          "Train the persona on your memories now?", parent=self.view)
        box.setInformativeText(
            f"Each memory in the run spends up to ε = {s.train_epsilon:g} of its lifetime "
            f"budget of {s.privacy_budget:g}; spent budget cannot be given back. Training "
            "runs on this device in the background and takes a few minutes; you can keep "
            "using Persona and cancel at any time.")
        self.confirm_train_button = box.addButton("Train now", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(self.confirm_train_button)
        box.buttonClicked.connect(
            lambda b: self.train_now() if b is self.confirm_train_button else None)
        self.confirm_box = box
        box.open()

    def train_now(self) -> None:
        if self.job.running:
            return
        try:
            self.job.start()
        except OSError as exc:
            self.ctx.show_error(f"The training process could not be started ({exc}). Check "
                                "that the data folder is writable.", "Training did not start")

    def cancel(self) -> None:
        if self.job.running:
            self.job.cancel()
            self._show_state()

    def _job_started(self, pid: int) -> None:
        self._ours.add(pid)
        self.view.reset_progress()
        self._show_state()
        if self.job.last is not None:
            self._job_progress(self.job.last)
        self.ctx.training_changed.emit()

    def _job_progress(self, u: TrainingUpdate) -> None:
        self.view.set_progress(u.step, u.steps, u.loss, u.epsilon)
        self.ctx.training_changed.emit()

    def _job_finished(self, result: TrainingOutcome) -> None:
        out = result.outcome or {}
        if result.error:
            self.ctx.show_error(result.error, "Training failed")
        elif result.cancelled or result.stopped:
            done = out.get("steps_done")
            at = f" at step {done} of {out.get('steps')}" if done is not None else ""
            self.ctx.notice.emit(f"Training stopped{at}. The run stays in the privacy ledger, "
                                 "charged in full; your current persona is unchanged.")
        elif out.get("promoted"):
            self.ctx.notice.emit(
                f"Training finished (ε {eps_text(_float(out.get('epsilon')))} for this run): "
                f"held-out perplexity {out['reference_perplexity']:.2f} → "
                f"{out['candidate_perplexity']:.2f}. The new persona is in use.")
        else:
            self.ctx.notice.emit(f"Training finished; {out.get('reason') or 'nothing changed'}.")
        self.refresh(force=True)
        self._show_state()
        self.ctx.training_changed.emit()

    # ------------------------------------------------------------------ the schedule
    def refresh_schedule(self, message: str = "") -> None:
        from persona.core.train import schedule

        home = self.ctx.home
        start_task(lambda _t: schedule.status(home), name="Reading the schedule",
                   on_result=lambda st: self._show_schedule(st, message),
                   on_error=lambda m: self.ctx.show_error(m, "The schedule could not be read"))

    def _show_schedule(self, status: dict, message: str = "") -> None:
        self.schedule = status
        self.view.set_schedule(status, self.ctx.settings.retrain_hour, message)

    def install_schedule(self) -> None:
        from persona.core.train import schedule

        home, s = self.ctx.home, self.ctx.settings
        start_task(lambda _t: schedule.install(home, hour=s.retrain_hour,
                                               minute=s.retrain_minute, python=sys.executable),
                   name="Installing the nightly retrain",
                   on_result=lambda r: self._schedule_changed(r.message),
                   on_error=lambda m: self.ctx.show_error(m, "The schedule was not installed"))

    def remove_schedule(self) -> None:
        from persona.core.train import schedule

        home = self.ctx.home
        start_task(lambda _t: schedule.remove(home), name="Removing the nightly retrain",
                   on_result=lambda r: self._schedule_changed(r.message),
                   on_error=lambda m: self.ctx.show_error(m, "The schedule was not removed"))

    def _schedule_changed(self, message: str) -> None:
        self.ctx.notice.emit(message)
        self.refresh_schedule(message)

    def set_hour(self, hour: int) -> None:
        """Save the retrain hour (settings.yaml); the installed timer follows."""
        s = self.ctx.settings
        if hour != s.retrain_hour:
            self.ctx.save_settings(s.model_copy(update={"retrain_hour": hour}))

    def _settings_changed(self) -> None:
        hour = self.ctx.settings.retrain_hour
        st = self.schedule
        if st and st.get("installed") and st.get("hour") != hour:
            self.install_schedule()  # installing again replaces the timer with the new hour
        elif st is not None:
            self.view.set_schedule(st, hour)
        self.refresh(force=True)  # the budget may have changed


def _float(x) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None
