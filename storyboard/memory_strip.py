"""The memory strip: the keyframes the selected shot is conditioned on, oldest first."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QGroupBox, QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout

from storyboard.memory import memory_for
from storymem_engine.project import Project

THUMB = QSize(112, 64)


class MemoryStrip(QGroupBox):
    def __init__(self, parent=None) -> None:
        super().__init__("Memory", parent)
        self.setObjectName("memory")
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(THUMB)
        self.list.setFixedHeight(THUMB.height() + 44)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#a1a1aa;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.list)
        self.keyframes: list[str] = []

    def show_for(self, project: Project | None, index: int | None, size: int, sink: int) -> None:
        self.list.clear()
        self.keyframes = []
        if project is None or index is None:
            self.note.setText("Select a shot to see the keyframes it is conditioned on.")
            return
        chosen = memory_for(project.story, index, size, sink)
        self.keyframes = [k.path for k in chosen]
        if not self.keyframes:
            self.note.setText(
                f"Shot {index + 1} has no memory yet: no earlier shot has an accepted take "
                "(an opening shot is generated from its prompt alone)."
            )
            return
        self.note.setText(
            f"Shot {index + 1} is conditioned on {len(self.keyframes)} keyframe(s) "
            f"(memory {size}, sink {sink})."
        )
        numbers = {shot.id: n for n, shot in enumerate(project.story.shots, start=1)}
        for keyframe in chosen:
            rel = keyframe.path
            item = QListWidgetItem(f"shot {numbers.get(keyframe.shot_id, '?')} · kf {keyframe.frame_index + 1}")
            item.setToolTip(rel)
            image = QImage(str(project.resolve(rel)))
            if image.isNull():
                item.setText(f"missing: {item.text()}")
            else:
                item.setIcon(QIcon(QPixmap.fromImage(image.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio))))
            self.list.addItem(item)
