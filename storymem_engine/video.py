"""H.264 MP4 writing, reading and concatenation with PyAV.

Clips are written as libx264 / yuv420p with the moov atom first (`+faststart`), the combination that
browsers and editors play. Writes are atomic: a cancelled or failed encode never leaves a half file at
the target, and never clobbers a good clip that was there before.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path

import numpy as np

from storymem_engine.atomic import FILE_MODE
from storymem_engine.soundtrack import AudioTrack, SoundtrackError, SoundtrackMuxer, check_track
from storymem_engine.take_files import why_unreadable

ProgressFn = Callable[[int], None]
CancelFn = Callable[[], bool]
FrameFn = Callable[[np.ndarray], np.ndarray]
PathLike = str | os.PathLike[str]


class VideoError(RuntimeError):
    """A video could not be written, read or joined; the message names the file or the bad size."""


class VideoCancelled(Exception):
    """Raised when `cancel()` asked an encode to stop.

    Deliberately not a VideoError: a UI treats a user's cancel as a normal outcome, not a failure.
    """


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    pix_fmt: str
    profile: str | None
    frames: int
    fps: float
    width: int
    height: int
    faststart: bool


def _fps_fraction(fps: float) -> Fraction:
    if not fps or fps <= 0:
        raise VideoError(f"fps must be positive, got {fps!r}")
    # 23.976 and friends come in as floats; an exact 1001-based fraction keeps the container timing clean.
    return Fraction(fps).limit_denominator(1001)


def _check_frame(frame: np.ndarray, index: int, size: tuple[int, int] | None) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise VideoError(f"frame {index} has shape {frame.shape}, expected [H, W, 3] RGB")
    if frame.dtype != np.uint8:
        raise VideoError(f"frame {index} has dtype {frame.dtype}, expected uint8")
    height, width = frame.shape[:2]
    if size is not None and (width, height) != size:
        raise VideoError(
            f"frame {index} is {width}x{height}, but the video is {size[0]}x{size[1]}; all frames must match"
        )
    # PyAV needs C-contiguous input; slices of a [N,H,W,3] array with strides are not.
    return np.ascontiguousarray(frame)


def _iter_frames(frames: Iterable[np.ndarray] | np.ndarray) -> Iterator[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise VideoError(f"a frame array must be [N, H, W, 3], got shape {frames.shape}")
        return iter(frames)
    return iter(frames)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_video(
    path: PathLike,
    frames: Iterable[np.ndarray] | np.ndarray,
    fps: float = 16,
    crf: int = 18,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    audio: AudioTrack | None = None,
) -> int:
    """Encode uint8 RGB frames [H, W, 3] to an H.264 MP4 at `path`; returns the number of frames written.

    `progress(done_frames)` is called after each frame; `cancel()` returning True raises VideoCancelled.
    On any error or cancel the temporary file is removed and an existing file at `path` is left as it was.
    `audio`: music for the film, added as an AAC 48 kHz stereo stream cut to the film's length (see
    storymem_engine.soundtrack); a soundtrack that cannot be used is a VideoError before anything is written.
    """
    import av

    target = Path(path)
    rate = _fps_fraction(fps)
    if audio is not None:
        # A bad soundtrack fails at once: before a frame is asked of the source (a renderer's generator) and
        # before the temp file exists.
        try:
            check_track(audio)
        except SoundtrackError as exc:
            raise VideoError(f"cannot write {target}: {exc}") from exc
    iterator = _iter_frames(frames)
    # Peek the first frame before creating anything: size checks should not leave temp files behind.
    try:
        first = next(iterator)
    except StopIteration:
        raise VideoError(f"no frames to write to {target}") from None
    first = _check_frame(first, 0, None)
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise VideoError(
            f"frame size {width}x{height} is not even; H.264 yuv420p needs an even width and height "
            f"(writing {target})"
        )

    if not target.parent.is_dir():
        raise VideoError(f"folder does not exist for {target}")

    def check_cancel() -> None:
        if cancel is not None and cancel():
            raise VideoCancelled(f"writing {target} was cancelled after {written} frames")

    # The temp file sits next to the target so the final os.replace is a same-filesystem atomic rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part.mp4", dir=target.parent)
    os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would keep everyone else from playing the film or the take
    os.close(fd)
    container = None
    soundtrack: SoundtrackMuxer | None = None
    written = 0
    try:
        container = av.open(tmp, mode="w", format="mp4", options={"movflags": "+faststart"})
        stream = container.add_stream("libx264", rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        if audio is not None:
            soundtrack = SoundtrackMuxer(container, audio, rate, check_cancel)

        frame_array: np.ndarray | None = first
        index = 0
        while frame_array is not None:
            check_cancel()
            frame_array = _check_frame(frame_array, index, (width, height))
            frame = av.VideoFrame.from_ndarray(frame_array, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
            written += 1
            index += 1
            if soundtrack is not None:
                soundtrack.advance(written)
            if progress is not None:
                progress(written)
            frame_array = next(iterator, None)

        for packet in stream.encode(None):
            container.mux(packet)
        if soundtrack is not None:
            soundtrack.finish(written)
        container.close()
        container = None
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        if soundtrack is not None:
            try:
                soundtrack.close()
            except Exception:
                pass  # already failing: the original error is the one to report
        if container is not None:
            try:
                container.close()
            except Exception:
                pass  # already failing: the original error is the one to report
        _remove_quietly(tmp)
        if isinstance(exc, SoundtrackError):
            raise VideoError(f"cannot write {target}: {exc}") from exc
        if isinstance(exc, av.FFmpegError):
            raise VideoError(f"encoding {target} failed: {exc}") from exc
        raise
    finally:
        # A generator source (concat) holds open decoders; close them now rather than at garbage collection.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return written


def _open_for_reading(path: Path):
    import av

    if not path.is_file():
        raise VideoError(f"video file not found: {path}")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open video {path}: {why_unreadable(exc)}") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"no video stream in {path}")
    return container


def iter_video_frames(path: PathLike) -> Iterator[np.ndarray]:
    """Decode a video lazily as uint8 RGB [H, W, 3] frames; VideoError names the file on failure."""
    import av

    source = Path(path)
    container = _open_for_reading(source)
    try:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"cannot decode video {source}: {why_unreadable(exc)}") from exc
    finally:
        container.close()


def read_video(path: PathLike) -> np.ndarray:
    """Decode a whole video to a uint8 array [N, H, W, 3]."""
    frames = list(iter_video_frames(path))
    if not frames:
        raise VideoError(f"no frames could be decoded from {path}")
    return np.stack(frames)


def _moov_before_mdat(path: Path) -> bool:
    """Walk the top-level MP4 boxes; faststart means the index (moov) precedes the media data (mdat)."""
    size_total = path.stat().st_size
    with open(path, "rb") as handle:
        offset = 0
        while offset + 8 <= size_total:
            handle.seek(offset)
            header = handle.read(8)
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                large = handle.read(8)
                if len(large) < 8:
                    break
                size = struct.unpack(">Q", large)[0]
            elif size == 0:
                size = size_total - offset
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size < 8:
                break
            offset += size
    return False


def probe_video(path: PathLike) -> VideoInfo:
    """Describe a video: codec, pixel format, profile, decoded frame count, fps, size and faststart."""
    import av

    source = Path(path)
    container = _open_for_reading(source)
    try:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        codec = context.name
        pix_fmt = context.pix_fmt or ""
        profile = context.profile or None
        width, height = context.width, context.height
        # Counting decoded frames, not the header's nb_frames, catches truncated files.
        frames = 0
        try:
            for _ in container.decode(stream):
                frames += 1
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"cannot decode video {source}: {why_unreadable(exc)}") from exc
    finally:
        container.close()
    return VideoInfo(
        codec=codec,
        pix_fmt=pix_fmt,
        profile=profile,
        frames=frames,
        fps=float(rate) if rate else 0.0,
        width=width,
        height=height,
        faststart=_moov_before_mdat(source),
    )


def concat_videos(
    paths: Sequence[PathLike],
    out_path: PathLike,
    fps: float = 16,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    ranges: Sequence[tuple[int, int]] | None = None,
    audio: AudioTrack | None = None,
    transforms: Sequence[FrameFn | None] | None = None,
) -> int:
    """Join clips in order into one film by decoding and re-encoding; returns the frames written.

    All clips must have the same size; a mismatch is a VideoError naming the clip. Clips are decoded one
    frame at a time so a minute-long film never has to fit in memory. ``ranges``: per clip, the frames
    [start, stop) it gives the film (a take's in and out points; (0, 0) for all of them). ``audio``: the film's
    music, as for write_video. ``transforms``: per clip, None or a function each of its frames passes through
    on the way into the film (a draft take's label, see storymem_engine.film_labels); it returns a frame of the
    same size.
    """
    clips = [Path(p) for p in paths]
    spans = list(ranges) if ranges is not None else [(0, 0)] * len(clips)
    if len(spans) != len(clips):
        raise ValueError(f"{len(spans)} frame ranges for {len(clips)} clips")
    changes = list(transforms) if transforms is not None else [None] * len(clips)
    if len(changes) != len(clips):
        raise ValueError(f"{len(changes)} frame transforms for {len(clips)} clips")
    if not clips:
        raise VideoError(f"no clips to join into {out_path}")
    for clip in clips:
        if not clip.is_file():
            raise VideoError(f"video file not found: {clip}")

    def frames() -> Iterator[np.ndarray]:
        size: tuple[int, int] | None = None
        first_clip: Path | None = None
        for clip, (start, stop), change in zip(clips, spans, changes, strict=True):
            empty = True
            for frame in islice(iter_video_frames(clip), start, stop or None):
                empty = False
                height, width = frame.shape[:2]
                if size is None:
                    size, first_clip = (width, height), clip
                elif (width, height) != size:
                    raise VideoError(
                        f"clip {clip} is {width}x{height}, but {first_clip} is {size[0]}x{size[1]}; "
                        "all clips must have the same size"
                    )
                yield frame if change is None else change(frame)
            if empty:
                raise VideoError(f"no frames could be decoded from {clip}")

    return write_video(out_path, frames(), fps=fps, progress=progress, cancel=cancel, audio=audio)
