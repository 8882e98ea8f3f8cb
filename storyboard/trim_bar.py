"""The part of a clip on the cut, drawn as editors shade a clip's in-to-out range: the take's frames between its in
and out points in amber over the whole clip's grey. Under the player's scrub slider and under a card's thumbnail,
one drawing for both. Under the preview's player the bar's two ends are handles: drag one to move the in or out
point, as on an editor's clip, with the frame under the handle shown while dragging (Esc lets go unchanged)."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

CLIP_GREY, KEPT_AMBER, HANDLE = QColor("#3f3f46"), QColor("#fbbf24"), QColor("#e4e4e7")
GRAB_PX = 8  # how near a handle a press must be to take it: a 3-px handle needs slack either side


def paint_trim_bar(painter: QPainter, bar: QRect, start: int, stop: int, frames: int) -> None:
    """Frames [start, stop) of ``frames`` in amber on grey across ``bar`` (at least 2 px of amber)."""
    painter.fillRect(bar, CLIP_GREY)
    painter.fillRect(QRect(bar.left() + bar.width() * start // frames, bar.top(),
                           max(bar.width() * (stop - start) // frames, 2), bar.height()), KEPT_AMBER)


class TrimBar(QWidget):
    """The bar under the player's slider: the part on the cut in amber when trimmed, and, when ``draggable``, the
    in and out handles over the whole clip."""

    handle_moved = Signal(str, int)  # while dragging: "in"/"out" and the frame under it; "" and the frame after Esc
    point_dragged = Signal(str, int)  # on release: "in" and the new first frame, or "out" and the new last frame

    def __init__(self, parent: QWidget | None = None, draggable: bool = False) -> None:
        super().__init__(parent)
        self.draggable = draggable
        self.setFixedHeight(7 if draggable else 4)  # slider and bar as high as the Play button: nothing grows
        self.setMouseTracking(draggable)  # the resize cursor over a handle before any press
        self.span = (0, 0, 0)  # (in, out, frames); out 0: the clip plays whole
        self._drag: tuple[str, int] | None = None  # the handle held and the frame it is on
        self._pressed_on = -1  # the frame the held handle was on: let go there, nothing changed

    def set_span(self, start: int, stop: int, frames: int) -> None:
        if self._drag is not None and frames != self.span[2]:  # another clip came in mid-drag: let go of it
            self._drag = None
            self.releaseKeyboard()
        self.span = (start, stop, frames)
        tip = f"On the cut: frames {start + 1}–{stop} of {frames}" if stop else ""
        if self.draggable and frames:
            tip = (tip + ". " if tip else "") + "Drag either end to move the in or out point (I and O at the " \
                                                "frame shown do the same)."
        self.setToolTip(tip)
        self.update()

    def _points(self) -> tuple[int, int]:
        """The [in, out) frames drawn now: the held handle where it is, the other where the take has it."""
        start, stop, frames = self.span
        stop = stop or frames
        if self._drag is not None:
            which, frame = self._drag
            start, stop = (frame, stop) if which == "in" else (start, frame + 1)
        return start, stop

    def _x(self, frame: int) -> int:
        return self.width() * frame // max(self.span[2], 1)

    def _edge_at(self, x: float) -> int:
        """The frame boundary nearest ``x`` (0 to frames): handles sit on boundaries, so a press that does not move
        leaves its handle where it was."""
        frames = self.span[2]
        return max(0, min(round(x * frames / max(self.width(), 1)), frames))

    def _handle_at(self, x: float) -> str | None:
        if not self.draggable or self.span[2] <= 0:
            return None
        start, stop = self._points()
        to_in, to_out = abs(x - self._x(start)), abs(x - self._x(stop))
        if min(to_in, to_out) > GRAB_PX:
            return None
        # Two handles a few pixels apart (a take trimmed to a frame or two): the nearer, the out point on a tie
        # pressed right of the in point, so both can always be taken.
        return "in" if to_in < to_out or (to_in == to_out and x < self._x(start)) else "out"

    def mousePressEvent(self, event: QMouseEvent) -> None:
        which = self._handle_at(event.position().x())
        if which is None or event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        start, stop = self._points()
        self._drag = (which, start if which == "in" else stop - 1)
        self._pressed_on = self._drag[1]
        self.grabKeyboard()  # Esc lets go without moving the point, wherever the focus is
        self.handle_moved.emit(*self._drag)
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._drag is None or event.key() != Qt.Key.Key_Escape:
            super().keyPressEvent(event)
            return
        self._drag = None
        self.releaseKeyboard()
        self.handle_moved.emit("", self._pressed_on)  # the frame the handle was on shows again
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._drag is None:
            held = self._handle_at(x) is not None
            self.setCursor(Qt.CursorShape.SizeHorCursor if held else Qt.CursorShape.ArrowCursor)
            return
        which = self._drag[0]
        start, stop, frames = self.span
        stop = stop or frames
        edge = self._edge_at(x)
        # An in point never passes the out point, nor an out point the in point: the cut keeps a frame at least.
        frame = min(edge, stop - 1) if which == "in" else max(edge - 1, start)
        if frame != self._drag[1]:
            self._drag = (which, frame)
            self.handle_moved.emit(which, frame)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            super().mouseReleaseEvent(event)
            return
        which, frame = self._drag
        self._drag = None
        self.releaseKeyboard()
        self.update()
        if frame != self._pressed_on:
            self.point_dragged.emit(which, frame)

    def paintEvent(self, _event: QPaintEvent) -> None:
        frames = self.span[2]
        if frames <= 0 or not (self.span[1] or self.draggable):
            return
        start, stop = self._points()
        painter = QPainter(self)
        if (start, stop) == (0, frames):
            painter.fillRect(self.rect(), CLIP_GREY)  # the whole clip plays: nothing trimmed to show in amber
        else:
            paint_trim_bar(painter, self.rect(), start, stop, frames)
        if self.draggable:
            for x in (self._x(start), self._x(stop) - 3):
                painter.fillRect(QRect(max(0, min(x, self.width() - 3)), 0, 3, self.height()), HANDLE)
        painter.end()
