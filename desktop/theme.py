"""Look and feel: the system's light or dark palette, one accent colour, the app icon.

The style sheet (``assets/style.qss``) names palette roles rather than colours wherever it
can, so the same sheet reads well in light and dark mode; ``@accent`` and friends are
filled in here from the colour scheme the system reports.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from core.paths import ASSETS_DIR

ICONS = ASSETS_DIR / "icons"
STYLE = ASSETS_DIR / "style.qss"

LIGHT = {"@accent": "#2F6FD0", "@recording": "#D93025", "@bubble_me": "#E3EDFB",
         "@bubble_ai": "#F1F1F4", "@chip": "#EDEDF2", "@muted": "#5F6368",
         "@banner_error": "#FCE8E6", "@banner_notice": "#E6F4EA", "@nav": "#F3F4F7"}
DARK = {"@accent": "#6EA2F5", "@recording": "#F28B82", "@bubble_me": "#24344D",
        "@bubble_ai": "#2C2D31", "@chip": "#34353A", "@muted": "#A8ABB2",
        "@banner_error": "#5C2B29", "@banner_notice": "#1E3A2A", "@nav": "#202124"}


def is_dark(app: QGuiApplication | None = None) -> bool:
    app = app or QGuiApplication.instance()
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None and scheme() != Qt.ColorScheme.Unknown:
        return scheme() == Qt.ColorScheme.Dark
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colours(app: QGuiApplication | None = None) -> dict[str, str]:
    return DARK if is_dark(app) else LIGHT


def apply_theme(app: QApplication) -> None:
    """Apply the style sheet for the current scheme, and again whenever it changes."""
    def apply() -> None:
        sheet = STYLE.read_text(encoding="utf-8")
        for key, value in sorted(colours(app).items(), key=lambda kv: -len(kv[0])):
            sheet = sheet.replace(key, value)
        app.setStyleSheet(sheet)

    apply()
    hints = app.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda _scheme: apply())


@cache
def app_icon() -> QIcon:
    return QIcon(str(ICONS / "persona.svg"))


@cache
def icon(name: str) -> QIcon:
    return QIcon(str(ICONS / f"{name}.svg"))
