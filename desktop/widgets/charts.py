"""Small charts drawn with QPainter: bars and lines, in the palette's colours.

QtCharts is not part of PySide6-Essentials and a plotting library is more than these views
need; two hundred lines of painting keep the app light and follow the light/dark theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

# Colour-blind-safe series colours (Okabe–Ito).
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                  "#F0E442", "#999999")


@dataclass
class Series:
    name: str
    values: Sequence[float | None]  # None: no value at that point (a gap in a line)
    colour: str | None = None


class _Chart(QWidget):
    """Axes, title, legend and an empty-state message; subclasses paint the data."""

    margin_left = 44
    margin_bottom = 28

    def __init__(self, title: str = "", parent=None) -> None:
        super().__init__(parent)
        self.title = title
        self.labels: list[str] = []
        self.series: list[Series] = []
        self.y_range: tuple[float, float] | None = None
        self.empty_text = "No data yet"
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName(title or "Chart")

    def sizeHint(self) -> QSize:
        return QSize(420, 220)

    def set_data(self, labels: Sequence[str], series: Sequence[Series], *,
                 y_range: tuple[float, float] | None = None) -> None:
        self.labels = list(labels)
        self.series = [Series(s.name, list(s.values),
                              s.colour or SERIES_COLOURS[i % len(SERIES_COLOURS)])
                       for i, s in enumerate(series)]
        self.y_range = y_range
        desc = "; ".join(f"{s.name}: {len([v for v in s.values if v is not None])} points"
                         for s in self.series)
        self.setAccessibleDescription(f"{self.title}. {desc}" if desc else self.empty_text)
        self.update()

    def _bounds(self) -> tuple[float, float]:
        if self.y_range is not None:
            return self.y_range
        vals = [v for s in self.series for v in s.values if v is not None and math.isfinite(v)]
        if not vals:
            return 0.0, 1.0
        lo, hi = min(0.0, min(vals)), max(vals)
        return (lo, hi if hi > lo else lo + 1.0)

    def _plot_rect(self) -> QRectF:
        top = 26 if self.title else 8
        legend = 18 if len(self.series) > 1 else 0
        return QRectF(self.margin_left, top + legend, max(10, self.width() - self.margin_left - 12),
                      max(10, self.height() - top - legend - self.margin_bottom))

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        faint = QColor(text)
        faint.setAlpha(60)
        if self.title:
            f = QFont(self.font())
            f.setBold(True)
            p.setFont(f)
            p.setPen(text)
            p.drawText(QRectF(0, 2, self.width(), 20), Qt.AlignmentFlag.AlignLeft, self.title)
            p.setFont(self.font())
        rect = self._plot_rect()
        if len(self.series) > 1:
            x = rect.left()
            for s in self.series:
                p.fillRect(QRectF(x, rect.top() - 14, 10, 10), QColor(s.colour))
                p.setPen(text)
                w = p.fontMetrics().horizontalAdvance(s.name)
                p.drawText(QPointF(x + 14, rect.top() - 5), s.name)
                x += w + 28
        has_data = any(v is not None for s in self.series for v in s.values)
        if not self.labels or not has_data:
            p.setPen(faint.darker(50) if faint.lightness() > 128 else text)
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        lo, hi = self._bounds()
        # Horizontal grid lines with their values.
        p.setPen(QPen(faint, 1))
        for i in range(5):
            v = lo + (hi - lo) * i / 4
            y = self._y(v, lo, hi, rect)
            p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            p.setPen(text)
            p.drawText(QRectF(0, y - 8, self.margin_left - 6, 16),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _fmt(v))
            p.setPen(QPen(faint, 1))
        self._paint_data(p, rect, lo, hi)
        # A few x labels, never overlapping.
        p.setPen(text)
        n = len(self.labels)
        step = max(1, math.ceil(n / max(1, int(rect.width() // 70))))
        for i in range(0, n, step):
            x = self._x(i, n, rect)
            p.drawText(QRectF(x - 40, rect.bottom() + 4, 80, 18), Qt.AlignmentFlag.AlignHCenter,
                       self.labels[i])

    @staticmethod
    def _y(v: float, lo: float, hi: float, rect: QRectF) -> float:
        return rect.bottom() - (v - lo) / (hi - lo) * rect.height()

    def _x(self, i: int, n: int, rect: QRectF) -> float:
        return rect.left() + (i + 0.5) * rect.width() / max(1, n)

    def _paint_data(self, p: QPainter, rect: QRectF, lo: float, hi: float) -> None:
        raise NotImplementedError


class LineChart(_Chart):
    """One line per series over the labels; ``None`` values break the line."""

    def _paint_data(self, p: QPainter, rect: QRectF, lo: float, hi: float) -> None:
        n = len(self.labels)
        for s in self.series:
            colour = QColor(s.colour)
            p.setPen(QPen(colour, 2))
            path, drawing = QPainterPath(), False
            for i, v in enumerate(s.values):
                if v is None or not math.isfinite(v):
                    drawing = False
                    continue
                pt = QPointF(self._x(i, n, rect), self._y(min(max(v, lo), hi), lo, hi, rect))
                if drawing:
                    path.lineTo(pt)
                else:
                    path.moveTo(pt)
                    drawing = True
                if n <= 60:
                    p.setBrush(colour)
                    p.drawEllipse(pt, 2.5, 2.5)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)


class BarChart(_Chart):
    """Bars per label; several series stack (e.g. the share of each emotion per day)."""

    stacked = True

    def _bounds(self) -> tuple[float, float]:
        if self.y_range is not None or not self.stacked:
            return super()._bounds()
        totals = [sum(s.values[i] or 0.0 for s in self.series) for i in range(len(self.labels))]
        hi = max(totals, default=1.0)
        return 0.0, hi if hi > 0 else 1.0

    def _paint_data(self, p: QPainter, rect: QRectF, lo: float, hi: float) -> None:
        n = len(self.labels)
        width = rect.width() / max(1, n) * 0.7
        base = [0.0] * n
        p.setPen(Qt.PenStyle.NoPen)
        for s in self.series:
            p.setBrush(QColor(s.colour))
            for i, v in enumerate(s.values):
                if not v:
                    continue
                y0 = self._y(base[i] + lo if self.stacked else lo, lo, hi, rect)
                top = base[i] + v if self.stacked else v
                y1 = self._y(min(top, hi), lo, hi, rect)
                x = self._x(i, n, rect) - width / 2
                p.drawRect(QRectF(x, y1, width, y0 - y1))
                if self.stacked:
                    base[i] += v


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"
