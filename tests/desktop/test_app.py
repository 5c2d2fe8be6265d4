"""`persona app`: --check, --screenshot of every view, and the window's error handling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from persona.desktop.window import VIEW_KEYS

ROOT = Path(__file__).resolve().parents[2]


def _persona(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "persona.core.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_check_passes_where_qt_can_open_windows():
    out = _persona("app", "--check", env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr
    assert "offscreen" in out.stdout


def test_check_without_a_display_says_why_and_fails():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = _persona("app", "--check", env=env)
    assert out.returncode == 1
    assert "no display" in out.stderr and "persona demo" in out.stderr


def _not_blank(path: Path) -> None:
    image = QImage(str(path))
    assert not image.isNull() and image.width() >= 760 and image.height() >= 520
    # Sample a grid: a real view has many distinct colours (text, controls, charts).
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 20, f"{path.name} looks blank ({len(colours)} colours)"


@pytest.mark.slow
def test_a_screenshot_of_every_view_is_produced_and_not_blank(sample_home, tmp_path):
    for view in VIEW_KEYS:
        out = tmp_path / f"{view}.png"
        done = _persona("app", "--home", str(sample_home), "--screenshot", str(out),
                        "--view", view, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
        assert done.returncode == 0, f"{view}: {done.stderr}"
        _not_blank(out)


def test_an_unexpected_error_in_a_slot_is_a_message_not_a_crash(sample_home, make_window,
                                                                  qtbot):
    from persona.desktop.app import _catch_unexpected

    window = make_window(sample_home)
    old = sys.excepthook
    _catch_unexpected(window.ctx)
    try:
        sys.excepthook(ValueError, ValueError("bad thing"), None)
    finally:
        sys.excepthook = old
    assert window.banner.isVisible() and "bad thing" in window.banner.text
    assert "app.log" in window.banner.text
