"""Look and feel: the system's light or dark palette, one accent colour, the app icon.

The style sheet (``assets/style.qss``) names palette roles rather than colours wherever it
can, so the same sheet reads well in light and dark mode; ``@accent`` and friends are
filled in here from the colour scheme the system reports.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from persona.core.paths import ASSETS_DIR

ICONS = ASSETS_DIR / "icons"
STYLE = ASSETS_DIR / "style.qss"

LIGHT = {"@on_accent": "#FFFFFF", "@accent": "#2F6FD0", "@recording": "#D93025", "@bubble_me": "#E3EDFB",
         "@bubble_ai": "#F1F1F4", "@chip": "#EDEDF2", "@muted": "#5F6368",
         "@banner_error": "#FCE8E6", "@banner_notice": "#E6F4EA", "@nav": "#F3F4F7"}
DARK = {"@on_accent": "#0E1A2B", "@accent": "#6EA2F5", "@recording": "#F28B82", "@bubble_me": "#24344D",
        "@bubble_ai": "#2C2D31", "@chip": "#34353A", "@muted": "#A8ABB2",
        "@banner_error": "#5C2B29", "@banner_notice": "#1E3A2A", "@nav": "#202124"}


def is_dark(app: QGuiApplication | None = None) -> bool:
    """Whether the palette in use is dark (what the style sheet must match)."""
    app = app or QGuiApplication.instance()
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colours(app: QGuiApplication | None = None) -> dict[str, str]:
    return DARK if is_dark(app) else LIGHT


def apply_theme(app: QApplication, scheme: str = "system") -> None:
    """Apply the style sheet for the current scheme, and again whenever it changes.

    ``scheme`` "light" or "dark" overrides the system's (Qt 6.8+; older Qt follows the system).
    """
    hints = app.styleHints()
    if scheme != "system" and hasattr(hints, "setColorScheme"):
        hints.setColorScheme(Qt.ColorScheme.Dark if scheme == "dark" else Qt.ColorScheme.Light)
    if scheme != "system" and is_dark(app) != (scheme == "dark"):
        # The platform cannot switch (offscreen, some Linux desktops): Fusion, own palette.
        app.setStyle("Fusion")
        app.setPalette(dark_palette() if scheme == "dark" else app.style().standardPalette())

    def apply() -> None:
        sheet = STYLE.read_text(encoding="utf-8")
        for key, value in sorted(colours(app).items(), key=lambda kv: -len(kv[0])):
            sheet = sheet.replace(key, value)
        app.setStyleSheet(sheet)

    apply()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda _scheme: apply())


def dark_palette() -> QPalette:
    p = QPalette()
    role, c = QPalette.ColorRole, QColor
    for r, colour in ((role.Window, "#1E1F22"), (role.WindowText, "#E8EAED"),
                      (role.Base, "#26272B"), (role.AlternateBase, "#2C2D31"),
                      (role.Text, "#E8EAED"), (role.Button, "#2C2D31"),
                      (role.ButtonText, "#E8EAED"), (role.Highlight, "#6EA2F5"),
                      (role.HighlightedText, "#101114"), (role.ToolTipBase, "#2C2D31"),
                      (role.ToolTipText, "#E8EAED"), (role.PlaceholderText, "#9AA0A6"),
                      (role.Mid, "#5F6368"), (role.Link, "#8AB4F8")):
        p.setColor(r, c(colour))
    p.setColor(QPalette.ColorGroup.Disabled, role.ButtonText, c("#6F7378"))
    p.setColor(QPalette.ColorGroup.Disabled, role.Text, c("#6F7378"))
    return p


@cache
def app_icon() -> QIcon:
    return QIcon(str(ICONS / "persona.svg"))


@cache
def icon(name: str) -> QIcon:
    return QIcon(str(ICONS / f"{name}.svg"))
