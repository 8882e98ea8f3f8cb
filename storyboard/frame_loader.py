"""Decoding off the UI thread: card thumbnails, keyframe images and whole clips for the player.

Decoding a 480p clip takes longer than a frame lasts, so every decode runs on a small thread pool
and comes back as a queued signal. QImage (unlike QPixmap) may be built outside the UI thread, so
the pool hands over finished, scaled QImages and the UI thread only paints them.

The pool is Python's, shared by every loader, not a QThreadPool owned by a widget: destroying a
QThreadPool waits for its running tasks inside a C++ destructor that holds the GIL, while the task
needs the GIL to finish, which deadlocked the app when a window closed during a decode.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage

from storyboard.frames import array_to_qimage, clip_fps, decode_clip, first_frame, frame_at
from storymem_engine.take_files import why_unreadable


@dataclass
class DecodedClip:
    path: str
    frames: list[QImage] = field(default_factory=list)
    fps: float = 16.0
    error: str = ""  # why nothing could be decoded; "" on success


class _Relay(QObject):
    """Parentless and held by each running decode, so a decode that outlives its loader (a closed
    window) still emits into a live object; Qt has dropped the connections by then."""

    image_ready = Signal(str, object)
    image_failed = Signal(str, str)
    clip_ready = Signal(int, object)


class FrameLoader(QObject):
    """Emits ``image_ready(key, QImage | None)`` and ``clip_ready(ticket, DecodedClip)`` on the thread
    that owns the loader (the UI thread); keys and tickets say which request an answer belongs to. A clip
    thumbnail that cannot be decoded from a file that is there also emits ``image_failed(key, reason)``
    first: the timeline marks that take DAMAGED."""

    image_ready = Signal(str, object)
    image_failed = Signal(str, str)
    clip_ready = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: set[concurrent.futures.Future] = set()
        self._tickets = 0
        self._relay = _Relay()
        self._relay.image_ready.connect(self.image_ready)
        self._relay.image_failed.connect(self.image_failed)
        self._relay.clip_ready.connect(self.clip_ready)

    def clip_thumbnail(self, key: str, path: Path, height: int, frames: int = 0, at: int = 0) -> None:
        """The clip's first frame (frame ``at``: a take's in point) scaled to ``height``; ``frames``: the take's
        frame count (a clip holding fewer is damaged)."""
        relay = self._relay

        def work() -> None:
            image, reason = first_frame(path, frames=frames)
            if image is not None and at > 0:
                # The frames before it are decoded too (~1 ms each at 832x480, off the UI thread).
                picture = frame_at(path, at)
                image = array_to_qimage(picture) if picture is not None else None
            if image is not None:
                image = image.scaledToHeight(height, Qt.TransformationMode.SmoothTransformation)
            elif reason:
                relay.image_failed.emit(key, reason)
            relay.image_ready.emit(key, image)

        self._start(work)

    def image(self, key: str, path: Path, size: QSize) -> None:
        relay = self._relay

        def work() -> None:
            image = QImage(str(path))
            relay.image_ready.emit(key, None if image.isNull() else image.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

        self._start(work)

    def clip(self, path: Path) -> int:
        """Start decoding every frame of a clip; returns the ticket its ``clip_ready`` will carry."""
        self._tickets += 1
        ticket = self._tickets
        relay = self._relay

        def work() -> None:
            result = DecodedClip(str(path))
            try:
                result.frames = [array_to_qimage(a) for a in decode_clip(path)]
                result.fps = clip_fps(path)
                if not result.frames:
                    result.error = f"{path.name} has no frames"
            except Exception as exc:  # noqa: BLE001 - any decode error is shown, not raised
                result.error = (f"Cannot play {path.name}: {why_unreadable(exc)}.\nThe file may be damaged or cut off: "
                                "regenerate the shot or delete this take.")
            relay.clip_ready.emit(ticket, result)

        self._start(work, _clip_pool())
        return ticket

    def _start(self, work: Callable[[], None], pool: concurrent.futures.ThreadPoolExecutor | None = None) -> None:
        future = (pool or _pool()).submit(work)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, seconds: float = 30.0) -> bool:
        """Block until this loader's decodes are done (their answers still arrive through the event loop)."""
        _done, running = concurrent.futures.wait(list(self._pending), timeout=seconds)
        return not running


_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_CLIP_POOL: concurrent.futures.ThreadPoolExecutor | None = None


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        # Two threads: thumbnails keep flowing without starving a generation on a small CPU.
        _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="frame-loader")
    return _POOL


def _clip_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The player's clips decode on their own thread: behind a project's worth of card thumbnails (a story just
    opened, a scroll) the shot the user clicked waited seconds to play."""
    global _CLIP_POOL
    if _CLIP_POOL is None:
        _CLIP_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-loader")
    return _CLIP_POOL
