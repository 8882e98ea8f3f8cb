"""The film: accepted takes in timeline order, animatic cards for shots without one, as one MP4.

Frames stream into ``storymem_engine.video.write_video`` (H.264, atomic), so memory stays flat and
an existing film is only replaced once the new one is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storyboard.animatic import render_card
from storyboard.frames import clip_geometry, iter_clip_frames
from storymem_engine.project import Project
from storymem_engine.shot_timing import FPS, card_frames
from storymem_engine.story import Shot
from storymem_engine.take_files import why_unreadable


class FilmError(Exception):
    """The film cannot be made; the message says which shot and why."""


@dataclass
class FilmSegment:
    number: int
    shot: Shot
    clip: Path | None  # None: an animatic card
    frames: int
    width: int = 0
    height: int = 0
    draft: bool = False  # made at the Draft profile: every frame says so in the film
    start: int = 0  # the clip's first frame on the cut (the take's in point)


def plan_film(project: Project, default_frames: int, fps: int = FPS,
              rows: Sequence[int] | None = None) -> list[FilmSegment]:
    """The film's shots in story order (only ``rows``, 0-based, when given: the selected shots' film)."""
    segments = []
    chosen = None if rows is None else set(rows)
    for number, shot in enumerate(project.story.shots, start=1):
        if chosen is not None and number - 1 not in chosen:
            continue
        take = shot.accepted()
        if take is None:
            segments.append(FilmSegment(number, shot, None, card_frames(shot, default_frames, fps)))
            continue
        try:
            clip = project.resolve(take.clip)
        except ValueError as exc:
            raise FilmError(f"shot {number}: {exc}") from None
        if not clip.is_file():
            raise FilmError(f"shot {number}: the accepted take's clip {take.clip} is missing")
        try:
            width, height, count = clip_geometry(clip)
        except Exception as exc:  # noqa: BLE001 - any decode error names the shot
            raise FilmError(f"shot {number}: cannot read {take.clip}: {why_unreadable(exc)} (regenerate the shot "
                            "or accept another take)") from None
        if count < take.frames:  # another file in its place (an image opens as a one-frame video): not this take
            raise FilmError(f"shot {number}: {take.clip} holds {count} frame(s) where the take made {take.frames} "
                            "(regenerate the shot or accept another take)")
        start, stop = take.cut_range() if take.trimmed else (0, count)
        segments.append(FilmSegment(number, shot, clip, stop - start, width, height,
                                    draft=take.request.get("profile") == "draft", start=start))
    if not segments:
        raise FilmError("the timeline has no shots" if chosen is None else "no shot is selected")
    return segments


def film_size(segments: list[FilmSegment], default: tuple[int, int]) -> tuple[int, int]:
    """The takes' size when they all share one, else the default; always even (H.264 4:2:0)."""
    sizes = {(s.width, s.height) for s in segments if s.clip is not None}
    width, height = sizes.pop() if len(sizes) == 1 else default
    return width - width % 2, height - height % 2


def film_frames(segments: list[FilmSegment], size: tuple[int, int]) -> Iterator[np.ndarray]:
    width, height = size
    stamp = None
    for seg in segments:
        if seg.clip is None:
            card = render_card(seg.shot.prompt, seg.number, seg.shot.scene_num, seg.shot.cut, width, height)
            for _ in range(seg.frames):
                yield card
        elif seg.draft:
            # A distilled draft never passes for the method's render, in the film either.
            stamp = stamp or draft_stamp(width, height)
            for frame in _clip_frames(seg, width, height):
                yield stamped(frame, stamp)
        else:
            yield from _clip_frames(seg, width, height)


def _clip_frames(seg: FilmSegment, width: int, height: int) -> Iterator[np.ndarray]:
    """A take's frames; a clip that stops decoding part way (a copy cut off in the middle: its first frames and
    size read fine) names its shot, where the encoder's own message named neither shot nor file."""
    done = 0
    reason = "the file ends there"  # a decoder may stop at the cut without an error: the film would be short
    try:
        for index, frame in enumerate(iter_clip_frames(seg.clip, width, height)):
            if index < seg.start:
                continue  # before the take's in point: decoded (H.264 frames depend on the ones before), not used
            done += 1
            yield frame
            if done == seg.frames:
                break  # the out point
    except Exception as exc:  # noqa: BLE001 - any decode error names the shot
        reason = why_unreadable(exc)
    if done < seg.frames:
        take = seg.shot.accepted()
        name = take.clip if take is not None else seg.clip.name
        raise FilmError(f"shot {seg.number}: cannot read {name} after frame {done} of {seg.frames}: {reason} (the "
                        "clip may be cut off: regenerate the shot or accept another take)")


def draft_stamp(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The "DRAFT" label for the top-left corner: RGB [h, w, 3] and its alpha [h, w, 1] in 0..1."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    unit = max(height / 480.0, 0.2)
    font = QFont("DejaVu Sans")
    font.setPixelSize(max(int(18 * unit), 7))
    font.setBold(True)
    w, h = min(width, max(int(210 * unit), 30)), min(height, max(int(30 * unit), 10))
    image = QImage(w, h, QImage.Format.Format_RGBA8888)
    image.fill(QColor(0, 0, 0, 150))
    painter = QPainter(image)
    painter.setFont(font)
    painter.setPen(QColor("#fbbf24"))
    painter.drawText(QRect(0, 0, w, h), Qt.AlignmentFlag.AlignCenter, "DRAFT · distilled")
    painter.end()
    raw = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h)
    rgba = raw.reshape(h, image.bytesPerLine())[:, : w * 4].reshape(h, w, 4).astype(np.float32)
    return rgba[..., :3], rgba[..., 3:] / 255.0


def stamped(frame: np.ndarray, stamp: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    rgb, alpha = stamp
    h, w = alpha.shape[:2]
    out = frame.copy()
    corner = out[:h, :w].astype(np.float32)
    out[:h, :w] = (corner * (1 - alpha) + rgb * alpha).round().astype(np.uint8)
    return out


def export_film(
    project: Project,
    path: Path,
    default_frames: int,
    default_size: tuple[int, int],
    progress: Callable[[int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    rows: Sequence[int] | None = None,
) -> int:
    """Write the film (of ``rows`` only, when given); returns its frame count. Raises FilmError, the engine's
    VideoCancelled / VideoError, or OSError (read-only folder, full disk)."""
    try:
        from storymem_engine.video import write_video
    except ImportError as exc:
        raise FilmError(f"video writing is not available in this build ({exc})") from None
    segments = plan_film(project, default_frames, rows=rows)
    size = film_size(segments, default_size)
    return write_video(path, film_frames(segments, size), fps=FPS, progress=progress, cancel=cancel)


def total_frames(project: Project, default_frames: int, rows: Sequence[int] | None = None) -> int:
    return sum(seg.frames for seg in plan_film(project, default_frames, rows=rows))
