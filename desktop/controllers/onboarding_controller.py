"""First-run onboarding: shown once, for a home with no memories; finishing or skipping
marks the home as onboarded.

The import runs ``Pipeline.ingest`` on a worker with progress and Cancel (it stops between
files or batches, so each file is in whole or not at all). It only ever imports what the person
chose: the sample persona never enters their data folder.
"""

from __future__ import annotations

import os

from persona.core.ingest import IngestSummary
from persona.desktop.context import AppContext
from persona.desktop.views.onboarding_view import OnboardingView
from persona.desktop.workers.mic_test import MicTest
from persona.desktop.workers.task import Task, start_task

MARKER = "onboarded"


def needs_onboarding(ctx: AppContext) -> bool:
    """True when the home was never onboarded and holds no memories yet."""
    if (ctx.home.root / MARKER).exists():
        return False
    if not ctx.home.memory_dir.exists():
        return True  # no memory table: nothing to open, nothing stored
    return ctx.pipeline.store.count() == 0


def mark_onboarded(ctx: AppContext) -> None:
    """Write the home's ``onboarded`` marker, private to the person (0600)."""
    path = ctx.home.root / MARKER
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class OnboardingController:
    def __init__(self, ctx: AppContext, view: OnboardingView) -> None:
        self.ctx, self.view = ctx, view
        self.task: Task | None = None
        self.summary: IngestSummary | None = None
        self.mic = MicTest(view)
        self.mic.level.connect(view.meter.set_level)
        self.mic.state.connect(view.set_testing)
        self.mic.failed.connect(self._mic_failed)
        view.home_label.setText(f"Your data folder: {ctx.home.root}")
        view.test_mic_clicked.connect(lambda: self.mic.toggle(ctx.settings))
        view.page_changed.connect(lambda _i: self.mic.stop())
        view.import_clicked.connect(self.start_import)
        view.cancel_import_clicked.connect(self.cancel_import)
        view.finish_clicked.connect(self.finish)
        view.skip_clicked.connect(self.skip)
        self._close_after_import = False
        view.rejected.connect(self._closed)  # Esc or the window's close button

    # ---------------------------------------------------------------- import
    def start_import(self) -> None:
        paths = self.view.chosen_paths()
        if not paths or self.task is not None:
            return
        pipeline = self.ctx.pipeline

        def run(task: Task) -> IngestSummary:
            return pipeline.ingest(paths, progress=lambda d, n: task.progress(d, n, ""),
                                   should_stop=lambda: task.cancelled)

        self.view.set_importing(True)
        self.task = start_task(run, name="Importing your files", on_result=self._imported,
                               on_error=self._failed,
                               on_progress=lambda d, n, _t: self.view.set_progress(d, n),
                               on_finished=self._finished)

    def cancel_import(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.view.cancel_import.setEnabled(False)
            self.view.result.setText("Stopping; what is stored stays …")

    def _imported(self, summary: IngestSummary) -> None:
        self.summary = summary
        lines = [f"{'Stopped. ' if summary.stopped else ''}{summary.stored} memories from "
                 f"{summary.files} file(s) are in."]
        if summary.stopped:
            lines.append(f"{summary.skipped} file(s) were not imported; add them again to "
                         "import them.")
        if summary.duplicates:
            lines.append(f"{summary.duplicates} piece(s) were already remembered.")
        if summary.errors:
            lines.append("Not imported:")
            lines += [f"• {os.path.basename(f) or f}: {why}" for f, why in summary.errors]
            self.ctx.show_error(
                "; ".join(f"{f}: {why}" for f, why in summary.errors)
                + ". The other files were imported.",
                f"{len(summary.errors)} file(s) could not be imported")
        self.view.result.setText("\n".join(lines))
        if summary.stored:
            self.ctx.memories_changed.emit()

    def _failed(self, message: str) -> None:
        self.view.result.setText(f"The import failed: {message}")
        self.ctx.show_error(message, "The import failed")

    def _finished(self) -> None:
        self.task = None
        self.view.set_importing(False)
        if self._close_after_import:
            self._close_after_import = False
            if self.summary is not None and not self.summary.errors:
                self._leave()  # errors stay on screen to be read

    # ---------------------------------------------------------------- leaving
    def _mic_failed(self, message: str) -> None:
        self.view.mic_status.setText(f"{message} You can choose another microphone in "
                                     "Settings later.")

    def finish(self) -> None:
        """Finish: files chosen but not imported yet are imported first (with progress and
        Cancel), then the home is marked and the dialog closes."""
        if self.task is None and self.summary is None and self.view.chosen_paths():
            self.start_import()
        if self.task is not None:
            self._close_after_import = True
            self.view.result.setText("Importing your files; Persona opens when they are in.")
            return
        self._leave()

    def skip(self) -> None:
        """Skip: a running import stops after its current file; what is in stays in."""
        if self.task is not None:
            self.cancel_import()
            return
        self._leave()

    def _leave(self) -> None:
        self.view.accept()
        self._closed()

    def _closed(self) -> None:
        self.mic.shutdown()
        if self.task is not None:
            self.task.cancel()  # stops before the next write; what is in stays in
        mark_onboarded(self.ctx)
