"""Whether a take's clip and keyframe images still hold a picture.

A file can be there and not empty and still be useless: a sync tool that wrote over it, a copy cut off
in the middle. A take made of such a file is no finished shot: a render would keep it, then stop at the
film (or at the next shot's memory) with the same error on every rerun. Decoding the first frame of a
clip and counting its packets, or decoding a whole keyframe image (a few hundred KB), costs milliseconds
per take.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from storymem_engine.words import counted

if TYPE_CHECKING:
    import numpy as np

CLIP_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")
MISSING = "is missing or empty"


def why_unreadable(exc: BaseException) -> str:
    """Why a file could not be read, in words: PyAV's and PIL's messages add an errno and the whole path to
    the reason ("[Errno 1094995529] Invalid data found when processing input: '/home/...'")."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image in a format that can be read"
    if isinstance(exc, MemoryError):
        return "too large to decode in the memory left"
    reason = getattr(exc, "strerror", None)
    if reason:
        return str(reason)
    if isinstance(exc, OSError | ValueError):
        return str(exc) or type(exc).__name__
    # A decoder's own slip on damaged data (PIL: IndexError, EOFError, struct.error): its words mean nothing to the
    # user ("tuple index out of range"), so they are left out.
    return "damaged or cut off"


def unreadable(path: Path, frames: int = 0) -> str:
    """Why ``path`` (a clip or an image on disk) cannot be decoded, in words; "" when it decodes. ``frames``: how
    many frames the take recorded for its clip (0: not known). A missing file is the caller's to report
    (project.missing_or_empty): here it is only "cannot be read"."""
    try:
        return _clip_problem(path, frames) if path.suffix.lower() in CLIP_SUFFIXES else _image_problem(path)
    except Exception as exc:  # noqa: BLE001 - any decoder error means the file is no use, with its reason
        return why_unreadable(exc)


def take_file_problem(path: Path, frames: int = 0) -> str:
    """What is wrong with a take's clip or image, as words that follow its name ("is missing or empty", "cannot be
    read (<why>)"); "" when it is there and decodes. A rerun's reason and the timeline exports say it alike."""
    from storymem_engine.project import missing_or_empty

    if missing_or_empty(path):
        return MISSING
    problem = unreadable(path, frames)
    return f"cannot be read ({problem})" if problem else ""


def _clip_problem(path: Path, frames: int) -> str:
    return first_picture(path, frames)[1]


def first_picture(path: Path, frames: int = 0, whole: bool = True) -> tuple[np.ndarray | None, str]:
    """A clip's first frame (RGB uint8) and why the clip is no use, "" when it is whole; one open of the file.

    With ``whole`` the clip must also hold every frame: "cut off: ..." when its index (our MP4s write it first)
    lists more frames than the file still holds (a copy cut off in the middle plays its first frames, then fails),
    and, with ``frames`` (the take's count), a file with fewer frames in its place (an image opens as a one-frame
    video). Counting packets after the first frame reads no pixels (a few ms for an 81-frame 480p clip, against
    ~250 ms to decode it). Raises PyAV's errors for a file that does not open or whose first frame does not
    decode."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            return None, "it has no video stream"
        stream = container.streams.video[0]
        listed = stream.frames
        count = whole and bool(listed or frames)
        first, held = None, 0
        try:
            for packet in container.demux(stream):
                held += 1 if packet.size else 0
                if first is None:
                    decoded = packet.decode()
                    if decoded:
                        first = decoded[0].to_ndarray(format="rgb24")
                        if not count:
                            break
        except av.FFmpegError:
            if first is None:
                raise
            # After the first frame: the frames before the damage are what it holds.
    if first is None:
        return None, "it holds no frames"
    if count and held < listed:
        return first, f"cut off: it holds {held} of its {listed} frames"
    if count and held < frames:
        return first, f"it holds {counted(held, 'frame')} where the take made {frames}"
    return first, ""


def _image_problem(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
    return ""
