"""`persona app`: the QApplication, the main window, the tray icon and the entry points.

    persona app [--home DIR]                         the window
    persona app --check                              can the app start here? (exit 0 / 1)
    persona app --home DIR --screenshot OUT.png --view memories    a PNG of one view

The window appears at once; the speech and language models load in the background while
the status line says so. Recording works from the first second: an utterance recorded
before Whisper is ready waits for it.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- can it start here?
def check_environment() -> tuple[bool, str]:
    """(True, where) when a window can open here, else (False, why and what to do)."""
    try:
        import PySide6  # noqa: F401
    except ImportError as exc:
        return False, (f"Qt for Python is not installed ({exc}); run `bash scripts/setup.sh` "
                       "or `pip install 'persona[desktop]'`.")
    system = platform.system()
    forced = os.environ.get("QT_QPA_PLATFORM", "")
    if system == "Linux" and not forced and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False, ("no display: neither DISPLAY nor WAYLAND_DISPLAY is set. Start the app "
                       "from a desktop session, or run `persona demo` for the headless loop.")
    # Opening the platform plugin can abort the process (a missing libxcb-cursor, a display
    # that refuses us), so it is tried in a child process.
    code = ("import sys\nfrom PySide6.QtWidgets import QApplication\n"
            "app = QApplication(sys.argv[:1])\nprint(app.platformName())")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"Qt could not be started to check the display ({exc})."
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        return False, (f"Qt cannot open a window here: {last}. On Debian/Ubuntu, "
                       "`bash scripts/setup.sh` installs the X11 libraries Qt needs.")
    return True, f"Qt can open windows here (platform {out.stdout.strip()})."


# ---------------------------------------------------------------------- the application
def build_parser() -> argparse.ArgumentParser:
    from desktop.window import VIEW_KEYS

    ap = argparse.ArgumentParser(prog="persona app", description="Open the Persona window.")
    ap.add_argument("--home", metavar="DIR",
                    help="data folder (default: $PERSONA_HOME or the platform's user-data folder)")
    ap.add_argument("--check", action="store_true",
                    help="exit 0 if the app can start here, else say why and exit 1")
    ap.add_argument("--screenshot", metavar="OUT.png", help="save a PNG of the window and exit")
    ap.add_argument("--view", choices=VIEW_KEYS, default="talk", help="the view to open")
    ap.add_argument("--size", default="1040x720", help="window size, e.g. 1040x720")
    ap.add_argument("--theme", choices=("system", "light", "dark"), default="system",
                    help="colour scheme (default: the system's)")
    ap.add_argument("--no-tray", action="store_true", help="no system-tray icon")
    ap.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    return ap


def main(argv: list[str] | None = None) -> int:
    """`persona app` and the `persona-desktop` GUI entry point."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.check:
        ok, why = check_environment()
        print(why, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    if args.screenshot and platform.system() == "Linux" and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from core.errors import PersonaError

    try:
        return _run(args)
    except PersonaError as exc:
        print(f"persona: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    t0 = time.perf_counter()
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from core.paths import Home
    from desktop.context import AppContext
    from desktop.theme import apply_theme
    from desktop.window import MainWindow

    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Persona")
    app.setOrganizationName("Persona")
    app.setDesktopFileName("persona")
    apply_theme(app, args.theme)
    ctx = AppContext(Home.resolve(args.home))
    _log_to_file(ctx.home.logs_dir / "app.log")
    window = MainWindow(ctx)
    _catch_unexpected(ctx)
    w, _, h = args.size.partition("x")
    window.resize(int(w), int(h))
    shell = Shell(app, ctx, window, tray=not args.no_tray and not args.screenshot)
    if args.screenshot:
        return shell.screenshot(args.view, Path(args.screenshot))
    window.show_view(args.view)
    window.show()
    shell.first_run_or_warm_up()
    log.info("window shown %.2f s after start", time.perf_counter() - t0)
    # The first turn of the event loop: from here a key press records (benchmarks read this).
    QTimer.singleShot(0, lambda: log.info("ready for push-to-talk %.2f s after start",
                                          time.perf_counter() - t0))
    return app.exec()


def _log_to_file(path: Path) -> None:
    """Warnings and errors (with tracebacks) go to the home's logs/app.log, private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def _catch_unexpected(ctx) -> None:
    """A bug in a slot becomes a line in the message bar and a traceback in the log,
    never a crash or a traceback dialog."""
    def hook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.error("unexpected error", exc_info=(kind, value, tb))
        from core.errors import PersonaError

        message = (str(value) if isinstance(value, PersonaError) else
                   f"{kind.__name__}: {value}. The window is still usable; details are in "
                   f"{ctx.home.logs_dir / 'app.log'}.")
        ctx.show_error(message, "Unexpected error")

    sys.excepthook = hook


class Shell:
    """Everything around the window: tray icon, close-while-training, model warm-up,
    first-run onboarding and screenshots."""

    def __init__(self, app, ctx, window, *, tray: bool) -> None:
        from desktop.theme import app_icon

        self.app, self.ctx, self.window = app, ctx, window
        app.setWindowIcon(app_icon())
        window.setWindowIcon(app_icon())
        window.close_guard = self._may_close
        self.tray = self._make_tray() if tray else None
        self._quitting = False

    # ---------------------------------------------------------------- models
    def first_run_or_warm_up(self) -> None:
        from desktop.controllers.onboarding_controller import needs_onboarding

        if needs_onboarding(self.ctx):
            from desktop.controllers.onboarding_controller import OnboardingController
            from desktop.views.onboarding_view import OnboardingView

            self._onboarding = OnboardingController(self.ctx, OnboardingView(self.window))
            self._onboarding.view.show()
        self.warm_up()

    def warm_up(self) -> None:
        """Load Whisper, then the language model, on a worker; the status line follows."""
        from desktop.workers.task import start_task

        ctx, window = self.ctx, self.window
        window.set_status("Loading the speech model … (you can already talk)")

        def load(task) -> None:
            ctx.pipeline.transcriber.warm_up()
            ctx.pipeline.store.count()
            task.progress(1, 2, "asr")
            ctx.pipeline.warm_up(asr=False, llm=True)
            task.progress(2, 2, "llm")

        def progress(done: int, _total: int, what: str) -> None:
            ctx.ready.add(what)
            ctx.models_ready.emit(what)
            window.set_status("Ready" if done == 2 else
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

        from desktop.theme import app_icon

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


if __name__ == "__main__":
    sys.exit(main())
