"""A grey, word-wrapped explanation under a setting, as tall as its text at the width it really gets."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

NOTE_STYLE = "color:#a1a1aa;"
# QLabel sizes wrapped text for a guessed width of ~240 px: in a form row three times as wide a two-line note got
# the height of five lines, with the gap above it. Until it is laid out, a note assumes this width.
ASSUMED_WIDTH = 520


class NoteLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setStyleSheet(NOTE_STYLE)

    def _width(self) -> int:
        return self.width() if self.width() > 200 else ASSUMED_WIDTH

    def sizeHint(self) -> QSize:
        return QSize(self._width(), self.heightForWidth(self._width()))

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.heightForWidth(self._width()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()  # the layout asks again: the height follows the new width
