"""The part of a clip on the cut, drawn as editors shade a clip's in-to-out range: the take's frames between its in
and out points in amber over the whole clip's grey. Under the player's scrub slider and under a card's thumbnail,
one drawing for both."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

CLIP_GREY, KEPT_AMBER = QColor("#3f3f46"), QColor("#fbbf24")


def paint_trim_bar(painter: QPainter, bar: QRect, start: int, stop: int, frames: int) -> None:
    """Frames [start, stop) of ``frames`` in amber on grey across ``bar`` (at least 2 px of amber)."""
    painter.fillRect(bar, CLIP_GREY)
    painter.fillRect(QRect(bar.left() + bar.width() * start // frames, bar.top(),
                           max(bar.width() * (stop - start) // frames, 2), bar.height()), KEPT_AMBER)


class TrimBar(QWidget):
    """The bar under the player's slider; empty when the clip plays whole."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(4)
        self.span = (0, 0, 0)  # (in, out, frames); out 0: the clip plays whole

    def set_span(self, start: int, stop: int, frames: int) -> None:
        self.span = (start, stop, frames)
        self.setToolTip(f"On the cut: frames {start + 1}–{stop} of {frames}" if stop else "")
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        start, stop, frames = self.span
        if not stop or frames <= 0:
            return
        painter = QPainter(self)
        paint_trim_bar(painter, self.rect(), start, stop, frames)
        painter.end()
