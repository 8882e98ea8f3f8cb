"""Playback > Full-screen preview (F11, or a double-click on the picture): the preview's player alone on the screen,
to judge a take at full size. The same player moves there and back, so what plays, the frame shown and the in and
out points carry over, and the playback keys (Space, Shift+Space, I, O, Alt+X, frame steps) work there too. Esc,
F11 or a double-click comes back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QVBoxLayout, QWidget

from storyboard.trim_points import trim_words

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

# The window's actions that also act in full screen (those with a key; undo and redo so a wrong I or O is undone).
FULL_SCREEN_ACTIONS = ("play_pause", "play_cut", "loop", "set_in", "set_out", "clear_trim", "go_to_in", "go_to_out",
                       "previous_frame", "next_frame", "full_screen", "undo", "redo")


class FullScreenPreview(QWidget):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window, Qt.WindowType.Window)  # its own window, owned (and deleted) by the main one
        self.main = window
        self.setObjectName("full_screen_preview")
        self.setStyleSheet("QWidget#full_screen_preview { background: #000; }")
        # Which shot and take plays: the timeline is out of sight (the cut plays on shot after shot here too).
        self.caption = QLabel()
        self.caption.setObjectName("full_screen_caption")
        self.caption.setStyleSheet("color: #a1a1aa;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.caption)
        self._index = -1  # where the player sat in the preview's layout
        window.preview.takes.currentItemChanged.connect(lambda *_: self.refresh_caption())
        for name in FULL_SCREEN_ACTIONS:
            self.addAction(window.actions_by_name[name])
        leave = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        leave.activated.connect(self.leave)

    @property
    def active(self) -> bool:
        return self._index >= 0

    def refresh_caption(self) -> None:
        """"Shot 3 of 6 · take 2 · frames 4–9 of 12 on the cut (…)", or the card's words for a shot without one."""
        if not self.active:
            return
        shot, take = self.main.preview.shot, self.main.preview.current_take()
        if shot is None:
            self.caption.setText("")
            return
        shots = self.main.project.story.shots
        words = f"Shot {self.main.project.story.shot_index(shot.id) + 1} of {len(shots)}"
        if take is None:
            words += " · animatic card (no take yet)"
        else:
            trimmed = trim_words(take)  # "" for a take that plays whole
            words += f" · take {take.number}" + (f" · {trimmed}" if trimmed else "")
        self.caption.setText(words)

    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def enter(self) -> None:
        preview, player = self.main.preview, self.main.preview.player
        self._index = preview.layout().indexOf(player)
        preview.layout().removeWidget(player)
        self.layout().addWidget(player, 1)
        player.show()
        self.refresh_caption()
        self.setWindowTitle(f"{self.main.windowTitle()} · preview")  # the task bar names the project open now
        # A message the app shows meanwhile (a generation failed, say) opens behind this window and blocks it:
        # full screen gives way to any modal dialog.
        QApplication.instance().installEventFilter(self)
        # The main window's screen, whole: also where no window manager handles full screen (a bare X server).
        self.setGeometry(self.main.screen().geometry())
        self.showFullScreen()
        self.activateWindow()
        player.setFocus()
        self.main.statusBar().showMessage("Full-screen preview: Esc, F11 or a double-click comes back.", 5000)

    def leave(self) -> None:
        if not self.active:
            return
        QApplication.instance().removeEventFilter(self)
        preview, player = self.main.preview, self.main.preview.player
        self.layout().removeWidget(player)
        preview.layout().insertWidget(self._index, player, 1)
        player.show()
        self._index = -1
        self.hide()
        self.main.activateWindow()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Show and isinstance(watched, QDialog)
                and watched.windowModality() != Qt.WindowModality.NonModal):
            self.leave()
        return False

    def closeEvent(self, event: QCloseEvent) -> None:
        self.leave()  # closed by the window manager: the player goes back, never with this window
        event.accept()
