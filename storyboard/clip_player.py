"""A small clip player: decoded frames shown in a label, play/pause, scrub slider, frame counter."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget

from storyboard.frames import array_to_qimage, clip_fps, decode_clip


class ClipPlayer(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: list[QImage] = []
        self.screen_label = QLabel("No clip")
        self.screen_label.setObjectName("screen")
        self.screen_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screen_label.setMinimumSize(320, 180)
        self.screen_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.screen_label.setStyleSheet("background:#111; color:#a1a1aa;")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.counter = QLabel("0 / 0")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self.play_button.toggled.connect(self._toggle)
        self.slider.valueChanged.connect(self.show_frame)

        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.counter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.screen_label, 1)
        layout.addLayout(controls)
        self.clear("No clip")

    def clear(self, message: str) -> None:
        self.play_button.setChecked(False)
        self.frames = []
        self.screen_label.setPixmap(QPixmap())
        self.screen_label.setText(message)
        self.slider.setRange(0, 0)
        self.counter.setText("0 / 0")
        self.play_button.setEnabled(False)
        self.slider.setEnabled(False)

    def load(self, path: Path) -> bool:
        """Decode a clip; on failure show why and return False."""
        if not path.is_file():
            self.clear(f"Clip missing:\n{path.name}")
            return False
        try:
            arrays = decode_clip(path)
        except Exception as exc:  # noqa: BLE001 - any decode error is shown, not raised
            self.clear(f"Cannot decode {path.name}:\n{exc}")
            return False
        if not arrays:
            self.clear(f"{path.name} has no frames")
            return False
        self.frames = [array_to_qimage(a) for a in arrays]
        self.timer.setInterval(max(int(1000 / clip_fps(path)), 10))
        self.play_button.setEnabled(True)
        self.slider.setEnabled(True)
        self.slider.setRange(0, len(self.frames) - 1)
        self.slider.setValue(0)
        self.show_frame(0)
        return True

    def show_frame(self, number: int) -> None:
        if not self.frames:
            return
        number = max(0, min(number, len(self.frames) - 1))
        image = self.frames[number]
        target = self.screen_label.size()
        self.screen_label.setPixmap(
            QPixmap.fromImage(image).scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation)
        )
        self.counter.setText(f"{number + 1} / {len(self.frames)}")
        if self.slider.value() != number:
            self.slider.setValue(number)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.show_frame(self.slider.value())

    def _toggle(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        if playing and self.frames:
            if self.slider.value() >= len(self.frames) - 1:
                self.slider.setValue(0)
            self.timer.start()
        else:
            self.timer.stop()

    def _advance(self) -> None:
        nxt = self.slider.value() + 1
        if nxt >= len(self.frames):
            self.play_button.setChecked(False)
            return
        self.slider.setValue(nxt)
