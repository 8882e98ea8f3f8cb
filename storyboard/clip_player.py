"""A small clip player: decoded frames shown in a label, play/pause, scrub slider, frame counter."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from storyboard.frame_loader import DecodedClip, FrameLoader
from storyboard.trim_bar import TrimBar

PLAYS_WHEN_LOADED = "\n(plays when loaded)"


class ClipPlayer(QWidget):
    unplayable = Signal(object)  # the Path of a clip that is there but could not be decoded
    finished = Signal()  # played to the last frame with Play on checked: the next shot's turn
    screen_double_clicked = Signal()  # on the picture: full screen and back, as video players do

    def __init__(self, parent: QWidget | None = None, trimmable: bool = False) -> None:
        """``trimmable``: the bar under the slider has in and out handles to drag (the preview's player)."""
        super().__init__(parent)
        self.frames: list[QImage] = []
        self.path: Path | None = None  # the clip shown, or being decoded
        self.loading = False
        self.play_when_loaded = False  # Space came while the clip decoded
        # Playing the cut: whatever is shown next (a decoded clip, an animatic card) starts at once. A pause, a
        # stop at the cut's end or a clip that cannot play ends it.
        self.autoplay = False
        self.play_on_for_cut = False  # Play on was ticked by Playback.play_cut, not by the user
        # The next shot's clip, decoded while this one plays (a real 81-frame clip takes ~0.5-1 s to decode: the cut
        # froze that long at each shot). One slot: (path, ticket, decoded clip or None while it decodes).
        self._next: tuple[Path, int, DecodedClip | None] | None = None
        self._ticket = 0
        # The shown take's frames on the cut, [start, stop) (stop 0: to its end): Play plays them, the cut goes on
        # to the next shot after them; the slider still reaches every frame, to choose new points.
        self.cut = (0, 0)
        self.loader = FrameLoader(self)
        self.loader.clip_ready.connect(self._decoded)
        self.screen_label = QLabel("No clip")
        self.screen_label.setObjectName("screen")
        self.screen_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screen_label.setWordWrap(True)  # a message longer than the screen is wide wraps, not clipped both sides
        self.screen_label.setMinimumSize(240, 135)  # 16:9; small enough for the window to fit a 768-px screen
        self.screen_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.screen_label.setStyleSheet("background:#111; color:#a1a1aa;")
        self.screen_label.installEventFilter(self)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Frame")
        self.slider.setToolTip("Scrub the clip (←/→ a frame). I and O set the take's in and out points on the cut "
                               "at the frame shown" + (", or drag the ends of the bar under this slider"
                                                       if trimmable else "") + "; right-click the picture for more.")
        self.trim_bar = TrimBar(draggable=trimmable)
        self.trim_bar.handle_moved.connect(self._show_handle_frame)
        self.counter = QLabel("0 / 0")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self.play_button.toggled.connect(self._toggle)
        self.play_button.clicked.connect(lambda playing: playing or self.stop_autoplay())
        self.slider.valueChanged.connect(self.show_frame)
        self.play_on = QCheckBox("Play on")
        self.play_on.setObjectName("play_on")
        self.play_on.setToolTip("When a clip ends, the next shot plays (its accepted take, or its animatic card "
                                "when it has none): the cut from here to the end.\nSpace plays and pauses; "
                                "Shift+Space plays the cut from the selected shot.")

        self.loop = QCheckBox("Loop")
        self.loop.setObjectName("loop")
        self.loop.setToolTip("Play the clip (between its in and out points) again and again, to judge it: "
                             "Playback > Loop (Ctrl+L). Play on goes to the next shot instead.")

        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        scrub = QVBoxLayout()
        scrub.setSpacing(0)
        scrub.addWidget(self.slider)
        scrub.addWidget(self.trim_bar)
        controls.addLayout(scrub, 1)
        controls.addWidget(self.counter)
        controls.addWidget(self.loop)
        controls.addWidget(self.play_on)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.screen_label, 1)
        layout.addLayout(controls)
        self.clear("No clip")

    def clear(self, message: str) -> None:
        """Show ``message`` instead of a clip (a decode still running for an earlier clip is then ignored)."""
        self._ticket = 0
        self.loading = False
        self.play_when_loaded = False
        self.play_button.setChecked(False)
        self.frames = []
        self.cut = (0, 0)
        self.trim_bar.set_span(0, 0, 0)
        self.screen_label.setPixmap(QPixmap())
        self.screen_label.setText(message)
        self.slider.setRange(0, 0)
        self.counter.setText("0 / 0")
        self.play_button.setEnabled(False)
        self.slider.setEnabled(False)

    def stop_autoplay(self) -> None:
        self.autoplay = False
        self._next = None  # its frames go with it (~100 MB for an 832x480 shot)
        if self.play_on_for_cut:  # ticked by Play the cut alone: Space plays one clip again, as it says
            self.play_on_for_cut = False
            self.play_on.setChecked(False)

    def prefetch(self, path: Path) -> None:
        """Decode ``path`` now so that load() shows it at once (the cut's next shot)."""
        if self._next is not None and self._next[0] == path:
            return
        self._next = (path, self.loader.clip(path), None)

    def toggle_play(self) -> None:
        """Space: pause what plays (and the cut with it), or play what is shown."""
        if self.play_button.isChecked():
            self.stop_autoplay()
            self.play_button.setChecked(False)
        elif self.play_button.isEnabled():
            self.play_button.setChecked(True)
        elif self.loading:
            # Pressed while the clip decodes (a real 81-frame take: about a second after → to it): it plays once
            # decoded, instead of the key being lost; pressed again, it does not.
            self.play_when_loaded = not self.play_when_loaded
            loading = self.screen_label.text().removesuffix(PLAYS_WHEN_LOADED)
            self.screen_label.setText(loading + (PLAYS_WHEN_LOADED if self.play_when_loaded else ""))

    def show_card(self, image: QImage, frames: int, fps: float) -> None:
        """A still held for ``frames`` frames: a shot without a take to play, as the exported film shows it."""
        self.clear("")
        self.path = None
        self._show(frames * [image], fps)
        if self.autoplay:
            self.play_button.setChecked(True)

    def load(self, path: Path, cut: tuple[int, int] = (0, 0)) -> bool:
        """Start decoding a clip on the loader's thread; False (and the reason shown) when it is missing. ``cut``:
        the take's frames on the cut, [start, stop) (0, 0: all of them); it is shown from ``start``."""
        self.path = path
        try:
            size = path.stat().st_size if path.is_file() else None
        except OSError:
            size = None
        if size is None:
            self.stop_autoplay()  # the cut stops where a clip is gone: the message stays in view
            self.clear(f"Clip missing:\n{path.name}")
            return False
        if size == 0:  # as the card's MISSING says; PyAV would call it "invalid data"
            self.stop_autoplay()
            self.clear(f"Clip empty:\n{path.name} holds nothing (0 bytes): regenerate the shot or delete this take.")
            return False
        self.clear(f"Loading {path.name}…")
        self.cut = cut
        self.loading = True
        if self._next is not None and self._next[0] == path:
            ticket, ready = self._next[1:]
            self._next = None
            self._ticket = ticket
            if ready is not None:  # decoded already: shown now, not after another decode
                self._decoded(ticket, ready)
            return True
        self._ticket = self.loader.clip(path)
        return True

    def _decoded(self, ticket: int, clip: DecodedClip) -> None:
        if self._next is not None and ticket == self._next[1]:
            self._next = (self._next[0], ticket, clip)  # kept until load() asks for it
            return
        if ticket != self._ticket:
            return  # another clip was chosen meanwhile
        self.loading = False
        if clip.error:
            self.stop_autoplay()
            self.clear(clip.error)
            self.unplayable.emit(Path(clip.path))
            return
        wanted = self.play_when_loaded
        self.play_when_loaded = False
        self._show(clip.frames, clip.fps)
        if self.autoplay or wanted:
            self.play_button.setChecked(True)

    def _show(self, frames: list[QImage], fps: float) -> None:
        self.frames = frames
        self.timer.setInterval(max(int(1000 / fps), 10))
        self.play_button.setEnabled(True)
        self.slider.setEnabled(True)
        self.slider.setRange(0, len(self.frames) - 1)
        start = self.play_range()[0]
        self.slider.setValue(start)
        self.show_frame(start)
        self.set_cut(*self.cut)

    def play_range(self) -> tuple[int, int]:
        """(first, last) frame that Play plays: the take's in and out points, inside the decoded frames."""
        count = len(self.frames)
        start, stop = self.cut
        last = min(stop or count, count) - 1
        return (min(start, last), last) if count else (0, 0)

    def set_cut(self, start: int, stop: int) -> None:
        """New in and out points for the shown clip (Set in / Set out): the bar and counter follow at once."""
        self.cut = (start, stop)
        trimmed = (start, stop) != (0, 0)
        self.trim_bar.set_span(start, (stop or len(self.frames)) if trimmed else 0, len(self.frames))
        self.show_frame(self.slider.value())

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
        start, last = self.play_range()
        outside = "  (trimmed off)" if self.cut != (0, 0) and not start <= number <= last else ""
        self.counter.setText(f"{number + 1} / {len(self.frames)}{outside}")
        if self.slider.value() != number:
            self.slider.setValue(number)

    def _show_handle_frame(self, which: str, number: int) -> None:
        """A trim handle held on ``number``: that frame shows, paused, as an editor shows the frame under a handle
        (``which`` "": a drag given up, the frame shown as any other)."""
        self.stop_autoplay()
        self.play_button.setChecked(False)
        self.show_frame(number)
        if which:  # "trimmed off" would be wrong here: the frame is where the point goes
            self.counter.setText(f"{number + 1} / {len(self.frames)}  ({which} point)")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.screen_label and event.type() == QEvent.Type.MouseButtonDblClick:
            self.screen_double_clicked.emit()
            return True
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.show_frame(self.slider.value())

    def _toggle(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        if playing and self.frames:
            start, last = self.play_range()
            if not start <= self.slider.value() < last:
                self.slider.setValue(start)  # from the in point, as the cut plays it
            self.timer.start()
        else:
            self.timer.stop()

    def _advance(self) -> None:
        nxt = self.slider.value() + 1
        if nxt > self.play_range()[1] and self.loop.isChecked() and not self.play_on.isChecked():
            nxt = self.play_range()[0]  # round again, from the in point
        elif nxt > self.play_range()[1]:
            self.play_button.setChecked(False)
            if self.play_on.isChecked():
                self.finished.emit()
            else:
                self.stop_autoplay()  # Play on unchecked while the cut played: it ends with this clip
            return
        self.slider.setValue(nxt)
