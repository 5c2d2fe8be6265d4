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
    from persona.desktop.window import VIEW_KEYS

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
    from persona.core.errors import PersonaError

    try:
        return _run(args)
    except PersonaError as exc:
        print(f"persona: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    t0 = time.perf_counter()
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from persona.core.paths import Home
    from persona.desktop.context import AppContext
    from persona.desktop.gc_pin import pin_to_ui_thread, settle_soon
    from persona.desktop.shell import Shell
    from persona.desktop.theme import apply_theme
    from persona.desktop.window import MainWindow

    QApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    pin_to_ui_thread(app)  # a collection on a worker thread would destroy Qt objects there
    app.setApplicationName("Persona")
    app.setOrganizationName("Persona")
    app.setDesktopFileName("persona")
    apply_theme(app, args.theme)
    home = Home.resolve(args.home)
    tightened = home.tighten()  # a home made before Persona kept it private
    ctx = AppContext(home)
    ctx.models_ready.connect(lambda _what: settle_soon())  # then full collections are cheap
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
    if tightened.changed or tightened.errors:
        ctx.notice.emit(tightened.message())  # once: the next start finds nothing to change
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
        from persona.core.errors import PersonaError

        message = (str(value) if isinstance(value, PersonaError) else
                   f"{kind.__name__}: {value}. The window is still usable; details are in "
                   f"{ctx.home.logs_dir / 'app.log'}.")
        ctx.show_error(message, "Unexpected error")

    sys.excepthook = hook


if __name__ == "__main__":
    sys.exit(main())
