"""A tall dialog's body in a scroll area, its buttons below it: on a short screen (a 1280x720 laptop, a 175 %
display) OK and Cancel stay on screen and the settings scroll, while on a tall one the dialog opens at its full
height with nothing to scroll."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QStyle, QVBoxLayout, QWidget

SHORTEST = 220  # px of settings still shown when the screen is very short


class DialogBody(QScrollArea):
    def __init__(self, *parts: QWidget) -> None:
        super().__init__()
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        for part in parts:
            column.addWidget(part)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The area itself is no field: as a Tab stop it took the dialog's first focus, drawn nowhere. Tabbing
        # through the fields still scrolls each one into view (QScrollArea follows its children's focus).
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _bar(self) -> int:
        return self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)

    def sizeHint(self) -> QSize:
        # A QScrollArea asks for a small box whatever its content: the dialog opened scrolling on any screen.
        hint = self.widget().sizeHint()
        return QSize(hint.width() + self._bar(), hint.height())

    def minimumSizeHint(self) -> QSize:
        least = self.widget().minimumSizeHint()
        return QSize(least.width() + self._bar(), min(least.height(), SHORTEST))


def screen_room(widget: QWidget) -> QSize:
    """The most a dialog may measure on the widget's screen: its free area less the window frame and a margin."""
    room = widget.screen().availableGeometry().size()
    return QSize(room.width() - 40, room.height() - 60)


def fit_screen(dialog: QWidget) -> None:
    """Size the dialog to what it asks, cut to the screen's free area (Qt's own cut stops at two thirds of it)."""
    dialog.layout().activate()
    dialog.resize(dialog.sizeHint().boundedTo(screen_room(dialog)))
