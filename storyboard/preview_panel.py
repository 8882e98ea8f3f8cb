"""The preview area: the selected shot's clip in a player and the list of its takes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout

from storyboard.clip_player import ClipPlayer
from storymem_engine.project import Project
from storymem_engine.story import Shot, Take
from storymem_engine.tiny import TINY_LABEL


class PreviewPanel(QGroupBox):
    accept_requested = Signal(str, str)  # shot id, take id

    def __init__(self, parent=None) -> None:
        super().__init__("Preview", parent)
        self.setObjectName("preview")
        self.project: Project | None = None
        self.shot: Shot | None = None
        self.player = ClipPlayer()
        self.takes = QListWidget()
        self.takes.setObjectName("takes")
        self.takes.setMaximumHeight(90)
        self.accept_button = QPushButton("Accept take")
        self.accept_button.setToolTip("Use the selected take for this shot (the film and later shots' memory)")
        self.takes.currentItemChanged.connect(self._show_take)
        self.accept_button.clicked.connect(self._accept)
        row = QHBoxLayout()
        row.addWidget(self.takes, 1)
        row.addWidget(self.accept_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.player, 1)
        layout.addLayout(row)
        self.set_shot(None, None)

    def set_shot(self, project: Project | None, shot: Shot | None) -> None:
        self.project, self.shot = project, shot
        self.takes.blockSignals(True)
        self.takes.clear()
        current: QListWidgetItem | None = None
        for take in shot.takes if shot else []:
            mark = "★ " if take.id == shot.accepted_take else "   "
            details = [take.id, f"{take.frames} frames", take.status, take.created,
                       take.engine if take.engine == TINY_LABEL else ""]
            item = QListWidgetItem(mark + "  ·  ".join(d for d in details if d))
            item.setData(Qt.ItemDataRole.UserRole, take.id)
            self.takes.addItem(item)
            if take.id == shot.accepted_take:
                current = item
        if current is None and self.takes.count():
            current = self.takes.item(self.takes.count() - 1)  # the newest take
        self.takes.blockSignals(False)
        self.accept_button.setEnabled(bool(shot and shot.takes))
        if shot is None:
            self.player.clear("No shot selected")
        elif not shot.takes:
            self.player.clear("No takes yet.\nGenerate menu > Generate shot.")
        else:
            self.takes.setCurrentItem(current)
            self._show_take(current, None)

    def _take(self, item: QListWidgetItem | None) -> Take | None:
        if item is None or self.shot is None:
            return None
        take_id = item.data(Qt.ItemDataRole.UserRole)
        return next((t for t in self.shot.takes if t.id == take_id), None)

    def _show_take(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        take = self._take(item)
        if take is None or self.project is None:
            return
        if take.status == "failed" or not take.clip:
            self.player.clear(f"Take {take.id} failed: no clip")
            return
        try:
            path = self.project.resolve(take.clip)
        except ValueError as exc:
            self.player.clear(str(exc))
            return
        self.player.load(path)

    def _accept(self) -> None:
        take = self._take(self.takes.currentItem())
        if take is not None and self.shot is not None and take.id != self.shot.accepted_take:
            self.accept_requested.emit(self.shot.id, take.id)
