"""Timelines for editors through OpenTimelineIO: native .otio, FCP 7 XML, FCP X XML and CMX 3600 EDL.

One video track of the accepted takes in story order, each clip named "Shot 3 - Take 2" and pointing at its
clip.mp4, a marker where each scene opens, and the shot's prompt, scene, seed, take, profile and memory
keyframes as clip metadata (.otio) or as notes (comments and logging info in FCP 7 XML, a note and metadata in
FCP X XML, comment lines in the EDL). Shots without a take become gaps or animatic card clips.

16 fps is not a SMPTE timecode rate and OpenTimelineIO refuses to write timecode at it, so the FCP 7 XML and
the EDL count in 48 fps timecode: three ticks per frame, the same cuts to the frame. .otio and FCP X XML
(rational times) stay at 16 fps.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.handoff import HandoffError, HandoffShot, metadata_of, note_lines, one_line, plan_handoff
from storyboard.shot_numbers import shots_in_words
from storymem_engine.atomic import atomic_write_text
from storymem_engine.project import Project
from storymem_engine.shot_timing import FPS
from storymem_engine.take_files import MISSING, take_file_problem

if TYPE_CHECKING:
    import opentimelineio as otio


@dataclass(frozen=True)
class TimelineFormat:
    key: str
    label: str
    suffix: str
    adapter: str
    rate: int  # the rate the file counts in
    relative_paths: bool  # media may be referenced relative to the exported file
    # The soundtrack goes on an audio track A1. OpenTimelineIO's FCP X writer fails on an audio track and its
    # CMX 3600 writer drops it (an EDL here lists the video events only): those two leave it out and say so.
    audio: bool = True


FORMATS: dict[str, TimelineFormat] = {f.key: f for f in (
    TimelineFormat("otio", "OpenTimelineIO", ".otio", "otio_json", FPS, True),
    TimelineFormat("fcp7", "Final Cut Pro 7 XML", ".xml", "fcp_xml", 3 * FPS, False),
    TimelineFormat("fcpx", "Final Cut Pro X XML", ".fcpxml", "fcpx_xml", FPS, False, audio=False),
    TimelineFormat("edl", "CMX 3600 EDL", ".edl", "cmx_3600", 3 * FPS, False, audio=False),
)}
EMPTY_SHOTS = ("gap", "card")
EDL_REEL_LENGTH = 8  # CMX 3600 reel names are at most 8 characters


@dataclass
class TimelineOptions:
    format: str = "otio"
    empty_shots: str = "gap"  # "gap": a gap of the shot's length; "card": its animatic card as a clip
    collect_media: bool = False  # copy the clips next to the exported file (<name>_media/) and point there


@dataclass
class TimelineResult:
    path: Path
    clips: int = 0
    gaps: int = 0
    cards: int = 0
    media_folder: Path | None = None
    copied: list[Path] = field(default_factory=list)
    soundtrack: str = ""  # what became of the project's soundtrack, in words ("" without one)
    notes: list[str] = field(default_factory=list)  # what an editor opening the file must know, in words

    @property
    def remarks(self) -> str:
        """"; <soundtrack>; <note>..." for the export's message ("" when there is nothing to add)."""
        return "".join(f"; {note}" for note in [self.soundtrack, *self.notes] if note)


def media_folder_for(path: Path) -> Path:
    return path.with_name(f"{path.stem}_media")


def export_timeline(project: Project, path: Path, options: TimelineOptions, default_frames: int,
                    default_size: tuple[int, int], progress: Callable[[int], None] | None = None,
                    cancel: Callable[[], bool] | None = None) -> TimelineResult:
    """Write the timeline atomically. Raises HandoffError (a shot's clip is missing, a bad option), the
    engine's VideoCancelled / VideoError while encoding cards, or OSError."""
    fmt = FORMATS.get(options.format)
    if fmt is None:
        raise HandoffError(f"unknown timeline format {options.format!r} (expected one of {', '.join(FORMATS)})")
    if options.empty_shots not in EMPTY_SHOTS:
        raise HandoffError(f"empty shots must be one of {', '.join(EMPTY_SHOTS)}, got {options.empty_shots!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise HandoffError(f"cannot write {path}: the folder does not exist")
    plan = plan_handoff(project, default_frames)
    result = TimelineResult(path)
    music = _soundtrack(project, plan, fmt, result)
    if (options.empty_shots == "gap" and fmt.key not in GAPS_KEPT and music is None
            and all(item.take is None for item in plan)):
        # It said "0 clips, 6 gaps" over a file of a title alone: this writer keeps no gap after the last clip.
        raise HandoffError(f"no shot has a take yet, and a {fmt.label} holds clips only (it drops the gaps of shots "
                           "without one): it would be empty. Generate shots first, or export empty shots as cards "
                           "(the animatic)")
    media = _media_files(plan, path, options, default_size, result, progress, cancel)
    timeline = build_timeline(plan, project.story.name, {n: _reference(p, path, fmt) for n, p in media.items()},
                              fmt)
    if music is not None:
        source = _collect_music(music.path, media_folder_for(path), result) if options.collect_media else music.path
        _add_soundtrack(timeline, music, _reference(source, path, fmt), fmt)
    atomic_write_text(path, _serialize(timeline, fmt))
    result.notes = _what_the_file_cannot_say(plan, options, fmt)
    result.gaps -= dropped_at_end(plan, options, fmt)  # "5 gaps" while saying those shots are not in the file
    return result


GAPS_KEPT = ("otio", "fcpx")  # formats whose writer keeps gaps after the last clip


def dropped_at_end(plan: list[HandoffShot], options: TimelineOptions, fmt: TimelineFormat) -> int:
    """How many gaps after the last clip the format's writer drops (none where it keeps them, or cards fill them)."""
    if options.empty_shots != "gap" or fmt.key in GAPS_KEPT:
        return 0
    trailing = 0
    for item in reversed(plan):
        if item.take is not None:
            break
        trailing += 1
    return trailing


def _what_the_file_cannot_say(plan: list[HandoffShot], options: TimelineOptions, fmt: TimelineFormat) -> list[str]:
    """What the file cannot say itself: a 48 fps count (no header carries it in an EDL), and gaps at the end, which
    the FCP 7 XML and EDL writers drop (the timeline ends with the last clip; OpenTimelineIO's own file and the FCP X
    XML keep them as gaps in the spine)."""
    notes = []
    if fmt.rate != FPS:
        notes.append(f"timed at {fmt.rate} fps ({fmt.rate // FPS} ticks per 16 fps frame): open it at {fmt.rate} fps")
    trailing = dropped_at_end(plan, options, fmt)
    if trailing:
        last = shots_in_words(list(range(len(plan) - trailing, len(plan))))
        notes.append(f"{last} without a take at the end {'is' if trailing == 1 else 'are'} not in it: the "
                     f"{fmt.label} ends with its last clip (export empty shots as cards to keep them)")
    return notes


@dataclass(frozen=True)
class _Music:
    path: Path
    name: str
    start: int  # frames (16 fps) into the music where the film starts
    frames: int  # the music's length in frames
    film: int  # the film's length in frames


def _soundtrack(project: Project, plan: list[HandoffShot], fmt: TimelineFormat,
                result: TimelineResult) -> _Music | None:
    """The soundtrack as the timeline's audio clip: checked first (a missing file is refused, as a missing clip is),
    or left out, with the reason in ``result.soundtrack``."""
    if project.story.soundtrack is None:
        return None
    if not fmt.audio:
        result.soundtrack = (f"the soundtrack is left out: the {fmt.label} written here holds the video only "
                             "(add the music in the editor, or export .otio or FCP 7 XML)")
        return None
    from storymem_engine.soundtrack import SoundtrackError, project_music

    try:
        music, path, info = project_music(project)
    except SoundtrackError as exc:
        raise HandoffError(f"the soundtrack {exc}; put it back, or choose another or remove it in File > "
                           "Soundtrack") from None
    length = info.duration_s
    start, frames = round(music.start_s * FPS), int(length * FPS)
    if start >= frames:
        result.soundtrack = (f"the soundtrack is left out: it is {length:.1f} s long and the film would start it at "
                             f"{music.start_s:.1f} s")
        return None
    result.soundtrack = f"the soundtrack {music.name} on audio track A1"
    return _Music(path, music.name, start, frames, sum(item.frames for item in plan))


def _collect_music(source: Path, folder: Path, result: TimelineResult) -> Path:
    folder.mkdir(exist_ok=True)
    result.media_folder = folder
    # Named as the project's copy (a new name for each music set): an earlier export's copy of other music stays
    # beside it.
    target = folder / f"soundtrack_{source.name}"
    if not _ours(target, source):
        partial = target.with_name(f".{target.name}.part")
        shutil.copy2(source, partial)
        os.replace(partial, target)
        result.copied.append(target)
    return target


def _add_soundtrack(timeline: otio.schema.Timeline, music: _Music, target: str, fmt: TimelineFormat) -> None:
    """Audio track A1: the music from its start point, as long as the film (or until the music ends)."""
    import opentimelineio as otio

    track = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    reference = otio.schema.ExternalReference(target_url=target, available_range=_span(music.frames, 0, fmt.rate))
    used = min(music.film, music.frames - music.start)
    track.append(otio.schema.Clip(name=f"Soundtrack - {one_line(music.name)}", media_reference=reference,
                                  source_range=_span(used, music.start, fmt.rate)))
    timeline.tracks.append(track)


def _media_files(plan: list[HandoffShot], path: Path, options: TimelineOptions, default_size: tuple[int, int],
                 result: TimelineResult, progress: Callable[[int], None] | None,
                 cancel: Callable[[], bool] | None) -> dict[int, Path]:
    """Shot number -> the media file its clip points at (collected copies and cards in <name>_media/)."""
    from storyboard.card_clips import timeline_size, write_card_clip

    folder = media_folder_for(path)
    needs_folder = options.collect_media or (options.empty_shots == "card" and any(i.take is None for i in plan))
    if needs_folder:
        folder.mkdir(exist_ok=True)
        result.media_folder = folder
    size = timeline_size(plan, default_size)
    media: dict[int, Path] = {}
    checked: dict[Path, str] = {}  # a clip several shots share is read once
    for done, item in enumerate(plan, start=1):
        if cancel is not None and cancel():
            raise HandoffError("cancelled")
        if item.clip is not None:
            _check_clip(item, checked)
            media[item.number] = _collect(item, folder, result) if options.collect_media else item.clip
            result.clips += 1
        elif options.empty_shots == "card":
            media[item.number] = write_card_clip(item, size, folder, cancel)
            result.cards += 1
        else:
            result.gaps += 1
        if progress is not None:
            progress(done)
    return media


def _check_clip(item: HandoffShot, checked: dict[Path, str]) -> None:
    """A clip that is gone, or there but cut off or overwritten, would reach the editor as offline or short media,
    found by whoever opens the timeline: it is refused here, naming the first such shot, as its card says MISSING
    or DAMAGED (the same check: the first frame and the packets, tens of ms per clip)."""
    assert item.clip is not None and item.take is not None
    if item.clip not in checked:
        checked[item.clip] = take_file_problem(item.clip, item.take.frames)
    problem = checked[item.clip]
    if problem:
        remedy = "" if problem == MISSING else ": regenerate the shot or accept another take"
        raise HandoffError(f"shot {item.number}: the accepted take's clip {item.take.clip} {problem}{remedy}")


def _ours(target: Path, source: Path) -> bool:
    """True when ``target`` is an earlier export's copy of ``source`` (same size and age: kept, not copied again);
    False when there is none. Any other file under that name is not the export's to replace."""
    if not target.exists():
        return False
    mine, theirs = source.stat(), target.stat()
    if target.is_file() and mine.st_size == theirs.st_size and int(mine.st_mtime) == int(theirs.st_mtime):
        return True
    raise HandoffError(f"{target} is already there and is not a copy of {source.name}: move it away (or export "
                       "under another name), so the export leaves it as it is")


def _collect(item: HandoffShot, folder: Path, result: TimelineResult) -> Path:
    """Copy the take's clip into the media folder once (a copy of the same size and age is kept)."""
    assert item.clip is not None and item.take is not None
    target = folder / f"{item.shot.id}_{item.take.id}.mp4"
    if _ours(target, item.clip):
        return target
    partial = target.with_name(f".{target.name}.part")
    shutil.copy2(item.clip, partial)
    os.replace(partial, target)  # a reader never sees half a clip under the real name
    result.copied.append(target)
    return target


def _reference(media: Path, exported: Path, fmt: TimelineFormat) -> str:
    media = Path(os.path.abspath(media))
    if fmt.relative_paths:
        try:
            return Path(os.path.relpath(media, os.path.abspath(exported.parent))).as_posix()
        except ValueError:  # another drive (Windows): only an absolute path can reach it
            pass
    if fmt.key == "edl":
        return media.as_posix()  # an EDL comment line, read by people and conform tools: a plain path
    return media.as_uri()


def build_timeline(plan: list[HandoffShot], name: str, targets: dict[int, str],
                   fmt: TimelineFormat) -> otio.schema.Timeline:
    """The OpenTimelineIO timeline: one video track, times at ``fmt.rate`` (a multiple of 16 fps)."""
    import opentimelineio as otio

    rate = fmt.rate

    def span(frames: int, start: int = 0) -> otio.opentime.TimeRange:
        return _span(frames, start, rate)

    timeline = otio.schema.Timeline(name=one_line(name) or "Story")
    timeline.global_start_time = otio.opentime.RationalTime(0, rate)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for item in plan:
        meta = metadata_of(item)
        target = targets.get(item.number)
        if target is None:
            element = otio.schema.Gap(name=f"Shot {item.number} - no take", source_range=span(item.frames))
        else:
            name_ = item.name if item.take is not None else f"Shot {item.number} - Animatic card"
            # A trimmed take: the whole clip is the media, the cut uses its frames from the in point on (the
            # editor can still extend the shot to the frames trimmed off).
            reference = otio.schema.ExternalReference(target_url=target,
                                                      available_range=span(item.available or item.frames))
            element = otio.schema.Clip(name=name_, media_reference=reference,
                                       source_range=span(item.frames, item.source_in))
            _format_notes(element, reference, item, fmt)
        element.metadata["storymem"] = meta
        if item.opens_scene:
            element.markers.append(otio.schema.Marker(
                name=f"Scene {item.shot.scene_num}", marked_range=span(0), color=otio.schema.MarkerColor.RED,
                comment=f"Shot {item.number}: scene starts"))
        elif item.shot.cut:  # "Scene 1" three times in scene 1 read as three scenes: a cut inside one says so
            element.markers.append(otio.schema.Marker(
                name=f"Scene {item.shot.scene_num} cut", marked_range=span(0), color=otio.schema.MarkerColor.YELLOW,
                comment=f"Shot {item.number}: scene cut (starts afresh, not continuing the shot before)"))
        track.append(element)
    return timeline


def _span(frames: int, start: int, rate: int) -> otio.opentime.TimeRange:
    """``frames`` 16-fps frames from frame ``start``, counted at ``rate`` (a multiple of 16)."""
    import opentimelineio as otio

    scale = rate // FPS
    return otio.opentime.TimeRange(otio.opentime.RationalTime(start * scale, rate),
                                   otio.opentime.RationalTime(frames * scale, rate))


def _format_notes(clip: otio.schema.Clip, reference: otio.schema.ExternalReference, item: HandoffShot,
                  fmt: TimelineFormat) -> None:
    """The shot's facts where each editor shows them (the adapters write these metadata keys)."""
    lines = note_lines(item)
    text = dict(lines)
    if fmt.key == "fcp7":
        summary = " | ".join(f"{k.title()} {v}" for k, v in lines if k in ("SCENE", "SEED", "TAKE"))
        clip.metadata["fcp_xml"] = {
            "comments": {"mastercomment1": text.get("PROMPT", ""), "mastercomment2": summary,
                         "mastercomment3": text.get("PROFILE", ""), "mastercomment4": text.get("MEMORY", ""),
                         "clipcommenta": text.get("NOTES", ""),
                         "clipcommentb": " / ".join(v for k, v in lines if k in ("SHOT SIZE", "CAMERA"))},
            "logginginfo": {"description": text.get("PROMPT", ""), "scene": text.get("SCENE", ""),
                            "shottake": text.get("TAKE", ""), "lognote": text.get("NOTES", "")},
        }
    elif fmt.key == "fcpx":
        reference.metadata["fcpx"] = {
            "note": " | ".join(f"{k.title()}: {v}" for k, v in lines),
            "metadata": [{f"com.storymem.{k.lower().replace(' ', '_')}": v} for k, v in lines],
        }
    elif fmt.key == "edl":
        clip.metadata["cmx_3600"] = {"reel": f"SH{item.number:04d}"[:EDL_REEL_LENGTH],
                                     "comments": [f"{k}: {one_line(v)}" for k, v in lines]}


def _serialize(timeline: otio.schema.Timeline, fmt: TimelineFormat) -> str:
    import opentimelineio as otio

    kwargs = {"rate": fmt.rate} if fmt.key == "edl" else {}
    text = otio.adapters.write_to_string(timeline, adapter_name=fmt.adapter, **kwargs)
    if fmt.key == "fcpx":
        text = _fcpx_frame_duration(text)
    return text


def _fcpx_frame_duration(text: str) -> str:
    """The FCP X adapter knows frame durations only for broadcast rates and leaves ours empty: fill in 1/16s
    (its own reader, and Final Cut, need it to count frames)."""
    root = ElementTree.fromstring(text)
    for element in root.iter("format"):
        if not element.get("frameDuration"):
            element.set("frameDuration", f"1/{FPS}s")
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n{body}\n'


def read_timeline(path: Path) -> otio.schema.Timeline:
    """Read an exported timeline back with its adapter (tests and the round-trip check)."""
    import opentimelineio as otio

    fmt = next((f for f in FORMATS.values() if Path(path).suffix.lower() == f.suffix), None)
    if fmt is None:
        raise HandoffError(f"{path}: not a timeline this app writes")
    kwargs = {"rate": fmt.rate} if fmt.key == "edl" else {}
    return otio.adapters.read_from_file(str(path), adapter_name=fmt.adapter, **kwargs)
