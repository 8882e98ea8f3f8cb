"""Frames between PyAV, numpy and Qt images (decode for the preview player and thumbnails)."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

if TYPE_CHECKING:
    import numpy as np


def array_to_qimage(frame: np.ndarray) -> QImage:
    """A uint8 RGB [H,W,3] array as a QImage that owns its pixels."""
    import numpy as np  # lazily: numpy costs ~100 ms of launch time and decoding happens later

    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    height, width, _ = frame.shape
    return QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage as a uint8 RGB [H,W,3] array (a copy)."""
    import numpy as np

    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    stride = rgb.bytesPerLine()
    raw = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=stride * height)
    return raw.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


def decode_clip(path: Path, limit: int | None = None) -> list[np.ndarray]:
    """RGB frames of a clip (all of them, or the first ``limit``). Raises OSError/av errors."""
    import av

    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) >= limit:
                break
    return frames


def frame_at(path: Path, index: int) -> np.ndarray | None:
    """Frame ``index`` of a clip as RGB (a take's in point), None when the clip holds fewer. The frames before it are
    decoded (an H.264 frame depends on them) but neither converted nor kept. Raises OSError/av errors."""
    import av

    with av.open(str(path)) as container:
        frame = next(islice(container.decode(video=0), index, None), None)
        return None if frame is None else frame.to_ndarray(format="rgb24")


def clip_fps(path: Path, default: float = 16.0) -> float:
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
            return float(rate) if rate else default
    except Exception:  # noqa: BLE001 - an unreadable clip plays at the default rate
        return default


def first_frame(path: Path, whole: bool = True, frames: int = 0) -> tuple[QImage | None, str]:
    """The first frame of a clip, or (None, why it cannot be decoded); the reason is "" for a missing or empty
    file, which the timeline already shows as MISSING. ``whole``: a clip cut off after its first frames, or with
    fewer than the take's ``frames``, is damaged too (a card), not for a storyboard page that only shows the first
    frame."""
    from storymem_engine.project import missing_or_empty
    from storymem_engine.take_files import first_picture, why_unreadable

    if missing_or_empty(path):
        return None, ""
    try:
        picture, problem = first_picture(path, frames, whole)
    except Exception as exc:  # noqa: BLE001 - a broken clip shows as a text card and a DAMAGED badge, not a crash
        return None, why_unreadable(exc)
    # Cut off after its first frame, or fewer frames than the take made: no DONE shot, so no thumbnail saying it is.
    return (array_to_qimage(picture), "") if picture is not None and not problem else (None, problem)


def clip_geometry(path: Path) -> tuple[int, int, int]:
    """(width, height, frame count) of a clip's first video stream; the count is decoded when the
    container does not store it. Raises on an unreadable file."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height, count = stream.codec_context.width, stream.codec_context.height, stream.frames
        if not count:
            count = sum(1 for _ in container.decode(video=0))
    return width, height, count


def iter_clip_frames(path: Path, width: int, height: int):
    """RGB frames of a clip scaled to width x height, one at a time."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.width != width or frame.height != height:
                frame = frame.reformat(width=width, height=height)
            yield frame.to_ndarray(format="rgb24")
