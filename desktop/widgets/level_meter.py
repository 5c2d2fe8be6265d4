"""A horizontal input-level meter fed with dBFS values (from core's recorder)."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, QTimer
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from persona.core.audio.io import meter_fraction


class LevelMeter(QWidget):
    """``set_level(dbfs)``; the bar falls back smoothly, with a peak mark that decays."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.fraction = 0.0
        self.peak = 0.0
        self.dbfs = float("-inf")
        self.setMinimumHeight(10)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Input level")
        self._decay = QTimer(self, interval=50, timeout=self._fall)

    def sizeHint(self) -> QSize:
        return QSize(200, 12)

    def set_level(self, dbfs: float) -> None:
        self.dbfs = dbfs
        self.fraction = max(meter_fraction(dbfs), self.fraction * 0.6)
        self.peak = max(self.peak, self.fraction)
        level = "silent" if not math.isfinite(dbfs) else f"{dbfs:.0f} dBFS"
        self.setAccessibleDescription(level)
        if not math.isfinite(dbfs):
            self.fraction = self.peak = 0.0
        elif not self._decay.isActive():
            self._decay.start()
        self.update()

    def _fall(self) -> None:
        self.fraction *= 0.8
        self.peak = max(self.fraction, self.peak - 0.02)
        if self.peak <= 0.01:
            self.fraction = self.peak = 0.0
            self._decay.stop()
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        radius = r.height() / 2
        track = self.palette().color(QPalette.ColorRole.Mid)
        track.setAlpha(70)
        p.setPen(track)
        p.setBrush(track)
        p.drawRoundedRect(r, radius, radius)
        if self.fraction > 0:
            # Green while the level is comfortable, amber near the top, red when clipping.
            colour = ("#34A853" if self.fraction < 0.75 else
                      "#F9AB00" if self.fraction < 0.95 else "#D93025")
            p.setPen(QColor(colour))
            p.setBrush(QColor(colour))
            p.drawRoundedRect(QRectF(r.left(), r.top(), r.width() * self.fraction, r.height()),
                              radius, radius)
        if self.peak > 0.02:
            x = r.left() + r.width() * self.peak
            p.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            p.drawLine(int(x), int(r.top()), int(x), int(r.bottom()))
