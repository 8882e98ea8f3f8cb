"""The frame shown in the preview, kept: right-click the picture (or the Playback menu) to add it to the cast, as a
new member or to a member's images (a look the memory should hold on to, where the keyframes missed it), or to
save it as a PNG. The frame is the decoded clip's, at the take's own size. The same menu offers the Playback
menu's in and out points, Compare takes and Full screen."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMenu

from storyboard import dialogs

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow


class FrameActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        screen = window.preview.player.screen_label
        screen.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        screen.customContextMenuRequested.connect(self._context_menu)

    def shown(self) -> tuple[QImage, str] | str:
        """The frame in the player and its name ("Shot 3 take 2 frame 12"), else why there is none to keep."""
        window = self.window
        preview, player = window.preview, window.preview.player
        take = preview.current_take()
        if preview.shot is None or take is None or player.path is None or not player.frames:
            return "Show a take in the preview first: the frame kept is the one it shows."
        number = window.project.story.shot_index(preview.shot.id) + 1
        frame = player.slider.value()
        name = f"Shot {number} take {take.number} frame {frame + 1}"
        return player.frames[frame], name

    def menu(self) -> QMenu:
        """The picture's menu (built on demand; tests trigger its actions)."""
        menu = QMenu(self.window.preview)
        usable = not isinstance(self.shown(), str)
        # The Playback menu's own actions (their keys shown): where a first-time user looks for them, on the picture.
        for name in ("set_in", "set_out", "clear_trim", None, "compare_takes", "full_screen", None):
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(self.window.actions_by_name[name])
        new = menu.addAction("Add the frame to the cast as a new member", lambda: self.add_to_cast())
        members = menu.addMenu("Add the frame to the images of")
        for member in self.window.project.story.cast:
            members.addAction(member.name, lambda m=member.id: self.add_to_cast(m))
        members.setEnabled(usable and bool(self.window.project.story.cast))
        menu.addSeparator()
        save = menu.addAction("Save the frame as PNG…", lambda: self.save_png())
        for action in (new, save):
            action.setEnabled(usable)
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.menu()
        menu.exec(self.window.preview.player.screen_label.mapToGlobal(pos))
        menu.deleteLater()

    def add_to_cast(self, member_id: str = "") -> bool:
        """The frame into references/ through the cast's own checks and undo step; a new member is named after the
        frame (rename it in the Cast tab)."""
        shown = self.shown()
        if isinstance(shown, str):
            self.window.statusBar().showMessage(shown, 6000)
            return False
        image, name = shown
        with tempfile.TemporaryDirectory(prefix="storymem-frame-") as folder:
            path = Path(folder) / f"{name.replace(' ', '_')}.png"
            if not image.save(str(path), "PNG"):
                self.window.statusBar().showMessage(f"Could not write {name} as an image.", 8000)
                return False
            added = self.window.casting.add_files([str(path)], member_id, name=name if not member_id else "")
        if added:
            self.window.lower_tabs.setCurrentIndex(1)  # the Cast tab: where the new image is seen and attached
        return added

    def save_png(self, path: Path | None = None) -> bool:
        shown = self.shown()
        if isinstance(shown, str):
            self.window.statusBar().showMessage(shown, 6000)
            return False
        image, name = shown
        if path is None:
            path = self.window.ask_export_path("Save the frame", "PNG image (*.png)", ".png",
                                               f"{self.window.display_name()} {name}")
            if path is None:
                return False
        if not image.save(str(path), "PNG"):
            dialogs.error(self.window, "Cannot save the frame", f"{path} could not be written (is the folder "
                          "writable, and is there space left?). Nothing else was changed.")
            return False
        self.window.statusBar().showMessage(f"Saved {name} ({image.width()}×{image.height()}) to {path}", 8000)
        return True
