"""Let the window's undo/redo shortcuts reach the QUndoStack while a text field has focus.

Text widgets claim Ctrl+Z / Ctrl+Shift+Z for their own (disabled) undo through ShortcutOverride;
this filter leaves those events unaccepted so the application shortcut fires instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence


class UndoShortcutPassthrough(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
                event.ignore()
                return True
        return False
