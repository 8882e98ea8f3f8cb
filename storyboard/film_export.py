"""The film: accepted takes in timeline order, animatic cards for shots without one, as one MP4.

Frames stream into ``storymem_engine.video.write_video`` (H.264, atomic), so memory stays flat and
an existing film is only replaced once the new one is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from storyboard.animatic import render_card
from storyboard.frames import clip_geometry, iter_clip_frames
from storymem_engine.film_labels import draft_stamp, stamped, text_stamp
from storymem_engine.project import Project
from storymem_engine.request import is_draft
from storymem_engine.shot_timing import FPS, card_frames, shot_frames
from storymem_engine.story import Shot
from storymem_engine.take_files import why_unreadable
from storymem_engine.words import counted

if TYPE_CHECKING:
    from storymem_engine.soundtrack import AudioTrack


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
            raise FilmError(f"shot {number}: {take.clip} holds {counted(count, 'frame')} where the take made "
                            f"{take.frames} (regenerate the shot or accept another take)")
        start, stop = take.cut_range() if take.trimmed else (0, count)
        segments.append(FilmSegment(number, shot, clip, stop - start, width, height,
                                    draft=is_draft(take), start=start))
    if not segments:
        raise FilmError("the timeline has no shots" if chosen is None else "no shot is selected")
    return segments


def film_size(segments: list[FilmSegment], default: tuple[int, int]) -> tuple[int, int]:
    """The takes' size when they all share one, else the default; always even (H.264 4:2:0)."""
    sizes = {(s.width, s.height) for s in segments if s.clip is not None}
    width, height = sizes.pop() if len(sizes) == 1 else default
    return width - width % 2, height - height % 2


def film_frames(segments: list[FilmSegment], size: tuple[int, int], burn_in: bool = False) -> Iterator[np.ndarray]:
    """The film's frames; ``burn_in``: a review copy, each frame labelled with its shot, take and timecode."""
    width, height = size
    stamp = None
    done = 0
    for seg in segments:
        if seg.clip is None:
            card = render_card(seg.shot.prompt, seg.number, seg.shot.scene_num, seg.shot.cut, width, height)
            frames: Iterator[np.ndarray] = (card for _ in range(seg.frames))
        elif seg.draft:
            # A distilled draft never passes for the method's render, in the film either.
            stamp = stamp or draft_stamp(width, height)
            frames = (stamped(frame, stamp) for frame in _clip_frames(seg, width, height))
        else:
            frames = _clip_frames(seg, width, height)
        yield from _burned_in(frames, seg, done, size) if burn_in else frames
        done += seg.frames


def _burned_in(frames: Iterator[np.ndarray], seg: FilmSegment, start: int,
               size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A segment's frames with "SHOT 3 · TAKE 2 · 00:00:05:03" bottom left (the film's timecode), as dailies are
    labelled for review."""
    take = seg.shot.accepted() if seg.clip is not None else None
    which = f"SHOT {seg.number} · " + (f"TAKE {take.number}" if take else "NO TAKE")
    for offset, frame in enumerate(frames):
        label = text_stamp(f"{which} · {timecode(start + offset)}", *size, "#f4f4f5", 300)
        yield stamped(frame, label, bottom=True)


def timecode(frame: int, fps: int = FPS) -> str:
    """An editor's timecode, HH:MM:SS:FF at the film's rate (16 fps: frames 00..15)."""
    seconds, frames = divmod(frame, fps)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def _clip_frames(seg: FilmSegment, width: int, height: int) -> Iterator[np.ndarray]:
    """A take's frames; a clip that stops decoding part way (a copy cut off in the middle: its first frames and
    size read fine) names its shot, where the encoder's own message named neither shot nor file."""
    done = 0
    reason = "the file ends there"  # a decoder may stop at the cut without an error: the film would be short
    try:
        # From the take's in point to its out point; the frames before it are decoded too (H.264 frames depend on
        # the ones before) and dropped.
        for frame in islice(iter_clip_frames(seg.clip, width, height), seg.start, seg.start + seg.frames):
            done += 1
            yield frame
    except Exception as exc:  # noqa: BLE001 - any decode error names the shot
        reason = why_unreadable(exc)
    if done < seg.frames:
        take = seg.shot.accepted()
        name = take.clip if take is not None else seg.clip.name
        # Counted in the clip's own frames, as the card's DAMAGED tooltip counts ("holds 11 of its 17 frames"); a
        # trimmed take adds the count on the cut.
        trimmed = take is not None and take.trimmed
        whole = take.frames if trimmed else seg.start + seg.frames
        on_cut = f" (frame {done} of the {seg.frames} on the cut)" if trimmed else ""
        raise FilmError(f"shot {seg.number}: cannot read {name} after frame {seg.start + done} of its {whole}{on_cut}: "
                        f"{reason} (the clip may be cut off: regenerate the shot or accept another take)")


@dataclass
class FilmPlan:
    """Everything a film export needs, read once before any frame is written: a missing clip or soundtrack is
    told before a progress dialog opens, and the export's message says what the file really holds."""

    segments: list[FilmSegment]
    size: tuple[int, int]
    audio: AudioTrack | None  # None: no soundtrack, or these shots come after it ends

    @property
    def frames(self) -> int:
        return sum(seg.frames for seg in self.segments)

    @property
    def card_rows(self) -> list[int]:
        """The shots (0-based rows) in the film as their animatic card: no accepted take yet."""
        return [seg.number - 1 for seg in self.segments if seg.clip is None]


def plan_export(project: Project, default_frames: int, default_size: tuple[int, int],
                rows: Sequence[int] | None = None) -> FilmPlan:
    """The film of ``rows`` (all shots when None); raises FilmError naming the shot or the soundtrack."""
    segments = plan_film(project, default_frames, rows=rows)
    return FilmPlan(segments, film_size(segments, default_size), film_soundtrack(project, default_frames, rows))


def write_film(plan: FilmPlan, path: Path, progress: Callable[[int], None] | None = None,
               cancel: Callable[[], bool] | None = None, burn_in: bool = False) -> int:
    """Write a planned film (``burn_in``: a review copy with shot, take and timecode on every frame); returns its
    frame count. Raises FilmError, the engine's VideoCancelled / VideoError, or OSError (read-only folder, full
    disk)."""
    try:
        from storymem_engine.video import write_video
    except ImportError as exc:
        raise FilmError(f"video writing is not available in this build ({exc})") from None
    return write_video(path, film_frames(plan.segments, plan.size, burn_in), fps=FPS, progress=progress,
                       cancel=cancel, audio=plan.audio)


def export_film(project: Project, path: Path, default_frames: int, default_size: tuple[int, int],
                rows: Sequence[int] | None = None, burn_in: bool = False) -> int:
    """Plan and write the film in one call (the command line's export); returns its frame count."""
    return write_film(plan_export(project, default_frames, default_size, rows), path, burn_in=burn_in)


def film_soundtrack(project: Project, default_frames: int, rows: Sequence[int] | None = None) -> AudioTrack | None:
    """The music under the film (None without a soundtrack). A film of selected shots hears what plays under its
    first shot in the whole film, and on from there."""
    from storymem_engine.soundtrack import AudioTrack, SoundtrackError, project_music

    try:
        found = project_music(project)
    except SoundtrackError as exc:
        raise FilmError(f"the soundtrack {exc}: put it back, or choose another or remove it in File > Soundtrack"
                        ) from None
    if found is None:
        return None
    music, path, info = found
    before = sum(shot_frames(shot, default_frames) for shot in project.story.shots[:min(rows)]) if rows else 0
    start = music.start_s + before / FPS
    if before and start >= info.duration_s:
        return None  # these shots come after the music has ended: silent in the whole film as well
    return AudioTrack(path, start, music.gain_db)
