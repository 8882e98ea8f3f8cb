"""A panel's buttons in one row, or in two when the panel stands in a narrow column (beside the preview on a
short window): one row there set the panel's minimum width past the column, and the window scrolled sideways."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QHBoxLayout, QLayout, QVBoxLayout, QWidget

Placed = tuple[QWidget, int]  # a widget and its stretch


class ButtonRows(QVBoxLayout):
    def __init__(self, first: list[Placed], second: list[Placed], gap: int = 0) -> None:
        super().__init__()
        self.setContentsMargins(0, 0, 0, 0)
        self._first, self._second, self._gap = first, second, gap
        self._rows = (QHBoxLayout(), QHBoxLayout())
        for row in self._rows:
            self.addLayout(row)  # an empty row takes no height (a box layout skips empty items)
        self.narrow = True
        self.set_narrow(False)

    def set_narrow(self, narrow: bool) -> None:
        if narrow == self.narrow:
            return
        self.narrow = narrow
        for row in self._rows:
            while row.takeAt(0) is not None:  # the widgets stay children of the panel; only their places go
                pass
        top, bottom = self._rows
        for widget, stretch in self._first:
            top.addWidget(widget, stretch)
        second = bottom if narrow else top
        if not narrow and self._gap:
            top.addSpacing(self._gap)
        for widget, stretch in self._second:
            second.addWidget(widget, stretch)
        # The layouts above cache their sizes: on a hidden tab (Cast behind Memory) they kept the one-row width,
        # and the tabs asked for it.
        layout: QObject | None = self
        while isinstance(layout, QLayout):
            layout.invalidate()
            layout = layout.parent()
