"""The horizontal timeline strip: a left-to-right QListView whose drops compute the insertion
index from the cursor's x and ask for an (undoable) move instead of letting Qt move items."""

from __future__ import annotations

import bisect
import json
from contextlib import nullcontext

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyleOptionViewItem

from storyboard.card_delegate import CARD_SIZE, CARD_WIDTHS, ShotCardDelegate
from storyboard.memory import bank_frozen
from storyboard.range_selection import RangeSelection
from storyboard.timeline_model import SHOT_MIME


class TimelineView(QListView):
    move_requested = Signal(list, int)  # shot ids, destination row (moveRows convention)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setAccessibleName("Shots")
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self.cards = ShotCardDelegate(self)
        self.setItemDelegate(self.cards)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(False)  # Qt's indicator is vertical; we paint our own
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setFixedHeight(CARD_SIZE.height() + self.horizontalScrollBar().sizeHint().height() + 12)
        self._drop_row: int | None = None
        self._range = RangeSelection(self)

    # ------------------------------------------------------------ zoom
    def card_width(self) -> int:
        return self.cards.size.width()

    def set_card_width(self, width: int) -> int:
        """Cards this wide (the nearest of CARD_WIDTHS), the current shot kept in view; returns the width set."""
        width = min(CARD_WIDTHS, key=lambda w: abs(w - width))
        if width != self.card_width():
            self.cards.size.setWidth(width)
            self.scheduleDelayedItemsLayout()  # uniform item sizes are cached: lay the cards out again
            self.executeDelayedItemsLayout()
            if self.currentIndex().isValid():
                self.scrollTo(self.currentIndex())
        return width

    def zoom(self, steps: int) -> int:
        """One zoom level in (+1) or out (-1) from the current one; returns the width set."""
        level = CARD_WIDTHS.index(self.card_width()) + steps
        return self.set_card_width(CARD_WIDTHS[max(0, min(level, len(CARD_WIDTHS) - 1))])

    # ------------------------------------------------------------ selection
    def currentChanged(self, current: QModelIndex, previous: QModelIndex) -> None:
        super().currentChanged(current, previous)
        self._range.current_changed(current)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._range.key_press(event):
            super().keyPressEvent(event)

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers) -> QModelIndex:
        """Page Up and Page Down move a screenful of cards (Qt's list pages up and down, which a strip lacks)."""
        pages = {QAbstractItemView.CursorAction.MovePageUp: -1, QAbstractItemView.CursorAction.MovePageDown: 1}
        model = self.model()
        if action not in pages or model is None or model.rowCount() == 0:
            return super().moveCursor(action, modifiers)
        per_page = max(1, self.viewport().width() // max(1, self.card_width()))
        row = max(self.currentIndex().row(), 0) + pages[action] * per_page
        return model.index(max(0, min(row, model.rowCount() - 1)), 0)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.viewport().update()  # every selected card's border says whether the strip has the keys

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.viewport().update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if not self._range.mouse_press(event):
            super().mousePressEvent(event)

    # ------------------------------------------------------------ geometry
    def insertion_row(self, x: int) -> int:
        """Row a drop at viewport x inserts before (moveRows convention)."""
        model = self.model()
        count = model.rowCount() if model else 0
        # Cards run left to right, so their centres are sorted: bisect (a drag-move event per pixel).
        return bisect.bisect_right(range(count), x, key=lambda row: self.visualRect(model.index(row, 0)).center().x())

    def _indicator_x(self, row: int) -> int:
        model = self.model()
        count = model.rowCount()
        if count == 0:
            return 4
        if row < count:
            return self.visualRect(model.index(row, 0)).left() + 2
        return self.visualRect(model.index(count - 1, 0)).right()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """A plain mouse wheel scrolls the strip sideways."""
        delta = event.angleDelta()
        if abs(delta.y()) > abs(delta.x()):
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - delta.y())
            event.accept()
            return
        super().wheelEvent(event)

    # ------------------------------------------------------------ drag source
    def startDrag(self, supported: Qt.DropAction) -> None:
        indexes = sorted(self.selectedIndexes(), key=QModelIndex.row)
        if not indexes:
            return
        drag = QDrag(self)
        drag.setMimeData(self.model().mimeData(indexes))
        drag.setPixmap(self._drag_pixmap(self.currentIndex() if self.currentIndex().isValid() else indexes[0]))
        drag.setHotSpot(QPoint(self.card_width() // 2, CARD_SIZE.height() // 2))
        drag.exec(Qt.DropAction.MoveAction, Qt.DropAction.MoveAction)
        # The move (if any) was done by dropEvent through an undo command: remove nothing here.
        self._set_drop_row(None)

    def _drag_pixmap(self, index: QModelIndex) -> QPixmap:
        pixmap = QPixmap(self.cards.size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        option = QStyleOptionViewItem()
        option.rect = pixmap.rect()
        self.itemDelegate().paint(painter, option, index)
        painter.end()
        return pixmap

    # ------------------------------------------------------------ drop target
    def _accepts(self, event: QDropEvent) -> bool:
        return event.source() is self and event.mimeData().hasFormat(SHOT_MIME)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event):
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not self._accepts(event):
            event.ignore()
            return
        super().dragMoveEvent(event)  # keeps Qt's auto-scroll near the edges
        self._set_drop_row(self.insertion_row(event.position().toPoint().x()))
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()

    def dragLeaveEvent(self, event) -> None:
        self._set_drop_row(None)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if not self._accepts(event):
            event.ignore()
            return
        shot_ids = json.loads(bytes(event.mimeData().data(SHOT_MIME)).decode())
        dest = self.insertion_row(event.position().toPoint().x())
        self._set_drop_row(None)
        # Our startDrag removes nothing at the source, so MoveAction is safe to report.
        event.setDropAction(Qt.DropAction.MoveAction)
        event.accept()
        self.move_requested.emit(shot_ids, dest)

    def _set_drop_row(self, row: int | None) -> None:
        if row != self._drop_row:
            self._drop_row = row
            self.viewport().update()

    def paintEvent(self, event) -> None:
        project = getattr(self.model(), "project", None)
        # Every painted card's status reads the same keyframe bank: check it once per paint, not once per card.
        with bank_frozen(project.story) if project is not None else nullcontext():
            super().paintEvent(event)
        if self._drop_row is None:
            return
        painter = QPainter(self.viewport())
        painter.setPen(QPen(QColor("#60a5fa"), 4))
        x = self._indicator_x(self._drop_row)
        painter.drawLine(x, 2, x, self.viewport().height() - 2)
        painter.end()
