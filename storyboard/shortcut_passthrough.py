"""Let the window's undo/redo shortcuts reach the QUndoStack while a text or number field has focus.

Text widgets claim Ctrl+Z / Ctrl+Shift+Z (and a line edit Ctrl+Y) for their own undo through ShortcutOverride;
this filter leaves those events unaccepted so the application shortcut fires instead. A spin box hands the
override to its line edit by calling it directly (no event filter sees that), so the filter goes on the spin box.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence

# Edit > Redo's keys (menus.py) beside the platform's own Undo and Redo.
REDO_KEYS = (QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y"))


def _is_undo_or_redo(event: QKeyEvent) -> bool:
    if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
        return True
    pressed = QKeySequence(event.keyCombination())
    return any(pressed.matches(key) == QKeySequence.SequenceMatch.ExactMatch for key in REDO_KEYS)


class UndoShortcutPassthrough(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) and _is_undo_or_redo(event):
            event.ignore()
            return True
        return False
