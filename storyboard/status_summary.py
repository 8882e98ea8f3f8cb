"""The status bar's summary (shots, scenes, running time, where the project is saved) on its right: it gives way
to a message, ending in "…" while one shows, so "1 image added to “<a long name>” (attached to every shot…)" is
read whole instead of cut where the summary began; the whole summary is back when the message goes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QStatusBar

from storyboard.elided_label import MIN_WIDTH, ElidedLabel

NO_LIMIT = 16_777_215  # QWIDGETSIZE_MAX
# The message's own margins in the bar and the gap kept between it and the summary (px).
MESSAGE_MARGIN = 24


class StatusSummary(ElidedLabel):
    def __init__(self, bar: QStatusBar) -> None:
        super().__init__()
        self._bar = bar
        bar.addPermanentWidget(self)
        bar.messageChanged.connect(self._give_way)
        bar.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._bar and event.type() == QEvent.Type.Resize:
            self._give_way(self._bar.currentMessage())
        return False

    def _give_way(self, message: str) -> None:
        if not message:
            self.setMaximumWidth(NO_LIMIT)
            return
        needed = self._bar.fontMetrics().horizontalAdvance(message) + MESSAGE_MARGIN
        self.setMaximumWidth(max(MIN_WIDTH, self._bar.width() - needed - MESSAGE_MARGIN))
