"""Edit > Undo history: every step of the open project since it was opened, newest last (Qt's QUndoView).

Clicking a step goes back (or forward) to just after it, as many Undos or Redos would; the top row is the project
as it was opened, and the step the project was last saved at carries a save icon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSize, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QStyle, QUndoView, QVBoxLayout

from storyboard.note_label import NoteLabel

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

OPENED = "As opened"


class UndoHistoryDialog(QDialog):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("undo_history")
        self.setWindowTitle("Undo history")
        self.view = QUndoView(window.undo_stack)
        self.window = window
        self.view.setEmptyLabel(OPENED)
        self.view.setIconSize(QSize(14, 14))  # the save icon's own size made its row twice as tall
        self.hint = NoteLabel("")
        hint = self.hint
        self.refresh_saved_mark()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.hide)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.view)
        layout.addWidget(buttons)
        self.resize(420, 480)
        # Only the user's own click or key here: the view's current row also moves on the menu's Undo (which says
        # its own) and when the window goes (nothing to say, and no status bar left to say it on).
        self.view.viewport().installEventFilter(self)
        self.view.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.MouseButtonRelease, QEvent.Type.KeyRelease):
            QTimer.singleShot(0, self, self._went_to)  # once the view has moved the stack
        return False

    def _went_to(self) -> None:
        """A step chosen here says so on the status bar: the last edit's message ("Deleted shot 1") stayed up after
        the click had brought shot 1 back."""
        current = self.view.currentIndex()
        if not current.isValid():
            return
        stack, row = self.window.undo_stack, current.row()
        where = f"just after “{stack.text(row - 1)}”" if row else "back at the project as opened"
        later = stack.count() - row
        after = (f": the {'step' if later == 1 else f'{later} steps'} after it stay{'s' * (later == 1)} until the "
                 "next edit" if later else "")
        # "Now", not "went back": a click may as well go forward (redo) to a later step.
        self.window.statusBar().showMessage(f"Now {where} (step {row} of {stack.count()}){after}.", 8000)

    def refresh_saved_mark(self) -> None:
        """A never-saved project is "clean" as opened too: a save icon there would claim a save that never was."""
        saved = self.window.project_path is not None and not self.window.files.is_unsaved()
        self.view.setCleanIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton) if saved
                               else QIcon())
        self.hint.setText("Click a step to go back to just after it; the steps after it stay until the next edit. "
                          + ("The save icon marks the step the project was saved at." if saved
                             else "This project is not saved yet (File > Save As)."))


def open_undo_history(window: MainWindow) -> UndoHistoryDialog:
    """Show the window's one undo history (modeless: it stays open beside the editor and follows every edit)."""
    dialog = window.undo_history_dialog
    if dialog is None:
        dialog = UndoHistoryDialog(window)
        window.undo_history_dialog = dialog
    dialog.refresh_saved_mark()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
