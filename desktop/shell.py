"""Everything around the main window: the tray icon, closing while a training run goes,
loading the models in the background, the first-run onboarding, and screenshots."""

from __future__ import annotations

import sys
import time
from pathlib import Path


class Shell:
    """Everything around the window: tray icon, close-while-training, model warm-up,
    first-run onboarding and screenshots."""

    def __init__(self, app, ctx, window, *, tray: bool) -> None:
        from persona.desktop.theme import app_icon

        self.app, self.ctx, self.window = app, ctx, window
        app.setWindowIcon(app_icon())
        window.setWindowIcon(app_icon())
        window.close_guard = self._may_close
        self.tray = self._make_tray() if tray else None
        self._quitting = False

    # ---------------------------------------------------------------- models
    def first_run_or_warm_up(self) -> None:
        from persona.desktop.controllers.onboarding_controller import needs_onboarding

        if needs_onboarding(self.ctx):
            from persona.desktop.controllers.onboarding_controller import OnboardingController
            from persona.desktop.views.onboarding_view import OnboardingView

            self._onboarding = OnboardingController(self.ctx, OnboardingView(self.window))
            self._onboarding.view.show()
        self.warm_up()
        self.window.build_pages_when_idle()

    def warm_up(self) -> None:
        """Load Whisper, then the language model, on a worker; the status line follows."""
        from persona.desktop.workers.task import start_task

        ctx, window = self.ctx, self.window
        window.set_status("Loading the speech model … (you can already talk)")

        def load(task) -> None:
            ctx.pipeline.transcriber.warm_up()
            ctx.pipeline.store.count()
            task.progress(1, 2, "asr")
            # One-off work before the first load (e.g. the model's runtime copy) is shown.
            ctx.pipeline.model_progress = lambda text: task.progress(1, 2, text)
            try:
                ctx.pipeline.warm_up(asr=False, llm=True)
            finally:
                ctx.pipeline.model_progress = None
            task.progress(2, 2, "llm")

        def progress(done: int, _total: int, what: str) -> None:
            if what not in ("asr", "llm"):  # a line of one-off work while the model loads
                window.set_status(f"Speech model ready · {what}")
                return
            ctx.ready.add(what)
            ctx.models_ready.emit(what)
            note = getattr(ctx.pipeline.__dict__.get("llm"), "adapter_note", None)
            window.set_status(("Ready" + (f" · {note}" if note else "")) if done == 2 else
                              "Speech model ready · loading the language model …")

        def failed(message: str) -> None:
            window.set_status("A model could not be loaded")
            ctx.show_error(message, "Loading the models failed")

        start_task(load, name="Loading the models", on_progress=progress, on_error=failed)

    # ---------------------------------------------------------------- screenshots
    def screenshot(self, view: str, out: Path) -> int:
        """Show ``view`` with the home's data, wait for its background work, save a PNG."""
        from PySide6.QtCore import QThreadPool

        self.window.show_view(view)
        self.window.set_status("Ready")
        self.window.show()
        deadline = time.monotonic() + 120
        pool = QThreadPool.globalInstance()
        quiet = 0
        while time.monotonic() < deadline and quiet < 10:
            self.app.processEvents()
            quiet = quiet + 1 if pool.activeThreadCount() == 0 else 0
            time.sleep(0.02)
        self.app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(out)):
            print(f"persona: error: could not write {out}", file=sys.stderr)
            return 2
        print(out)
        return 0

    # ---------------------------------------------------------------- tray
    def _make_tray(self):
        from PySide6.QtGui import QAction
        from PySide6.QtWidgets import QMenu, QSystemTrayIcon

        from persona.desktop.theme import app_icon

        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(app_icon(), self.window)
        tray.setToolTip("Persona")
        menu = QMenu()
        talk = QAction("Push to talk", menu)
        talk.setToolTip("Start recording; choose again to stop and send")
        talk.triggered.connect(self._tray_talk)
        toggle = QAction("Show / hide Persona", menu)
        toggle.triggered.connect(self._toggle_window)
        quit_ = QAction("Quit Persona", menu)
        quit_.triggered.connect(self.quit)
        for a in (talk, toggle):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(quit_)
        tray.setContextMenu(menu)
        tray.activated.connect(lambda reason: self._toggle_window()
                               if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
        tray.show()
        self._tray_menu = menu  # a QMenu without a parent must be kept alive
        return tray

    def _tray_talk(self) -> None:
        _, controller = self.window.page("talk")
        controller.toggle_recording()

    def _toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()

    def quit(self) -> None:
        self._quitting = True
        if self.window.close():
            self.app.quit()
        self._quitting = False

    # ---------------------------------------------------------------- closing
    def _may_close(self, _event) -> bool:
        """Closing while a training run is going asks whether it should go on."""
        from PySide6.QtWidgets import QMessageBox

        job = getattr(self.ctx, "training_job", None)
        if job is None or not job.running:
            self._stop_speech()
            return True
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        box.setText("A training run is still going.")
        box.setInformativeText(
            "Keep training in the background? It finishes on its own and the new persona is "
            "used next time. Stopping saves a checkpoint; the next run resumes it (what the "
            "run was charged stays in the privacy ledger either way).")
        keep = box.addButton("Keep training", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        if box.clickedButton() is keep:
            job.detach()
        elif box.clickedButton() is stop:
            job.cancel(wait=True)
        else:
            return False
        self._stop_speech()
        return True

    def _stop_speech(self) -> None:
        talk = self.window.controllers.get("talk")
        if talk is not None:
            talk.shutdown()
