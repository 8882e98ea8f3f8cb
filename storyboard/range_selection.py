"""Shift+arrow and Shift+click on the timeline select from the shot last chosen, wherever it was chosen from.

Qt's views move their anchor only when the current item changes with Shift up: after Ctrl+Shift+A added a shot
(or Ctrl+Shift+Z redid an edit), Shift+Left selected from whatever card was chosen before, often the first. This
anchor follows the current shot however it got there, except while the selection is being extended, as file
managers and editors do.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QAbstractItemView

_MOVES = {
    Qt.Key.Key_Left: QAbstractItemView.CursorAction.MoveLeft,
    Qt.Key.Key_Right: QAbstractItemView.CursorAction.MoveRight,
    Qt.Key.Key_Home: QAbstractItemView.CursorAction.MoveHome,
    Qt.Key.Key_End: QAbstractItemView.CursorAction.MoveEnd,
    Qt.Key.Key_PageUp: QAbstractItemView.CursorAction.MovePageUp,
    Qt.Key.Key_PageDown: QAbstractItemView.CursorAction.MovePageDown,
}


class RangeSelection:
    def __init__(self, view: QAbstractItemView) -> None:
        self.view = view
        self.anchor = QPersistentModelIndex()
        self._extending = False

    def current_changed(self, current: QModelIndex) -> None:
        if not self._extending:
            self.anchor = QPersistentModelIndex(current)

    def key_press(self, event: QKeyEvent) -> bool:
        """Shift with a move key: True when handled (the selection runs from the anchor to the new current)."""
        if event.modifiers() != Qt.KeyboardModifier.ShiftModifier or event.key() not in _MOVES:
            return False
        target = self.view.moveCursor(_MOVES[event.key()], event.modifiers())
        if target.isValid():
            self.extend_to(target)
        return True

    def mouse_press(self, event: QMouseEvent) -> bool:
        """Shift+click on a card: True when handled."""
        if (event.modifiers() != Qt.KeyboardModifier.ShiftModifier
                or event.button() != Qt.MouseButton.LeftButton):
            return False
        target = self.view.indexAt(event.position().toPoint())
        if not target.isValid():
            return False
        self.view.setFocus(Qt.FocusReason.MouseFocusReason)
        self.extend_to(target)
        return True

    def extend_to(self, target: QModelIndex) -> None:
        view = self.view
        model = view.model()
        start = self.anchor.row() if self.anchor.isValid() else view.currentIndex().row()
        if start < 0:
            start = target.row()
        low, high = sorted((start, target.row()))
        selection = QItemSelection(model.index(low, 0), model.index(high, 0))
        flags = QItemSelectionModel.SelectionFlag
        self._extending = True
        try:
            view.selectionModel().setCurrentIndex(target, flags.NoUpdate)
            view.selectionModel().select(selection, flags.ClearAndSelect)
        finally:
            self._extending = False
        view.scrollTo(target)
