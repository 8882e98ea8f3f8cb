"""A take's in and out points on the cut (no Qt): where Set in / Set out put them, and how they read.

Frames are counted from 0 inside the code and from 1 on screen, as the player's counter does ("12 / 81").
"""

from __future__ import annotations

from storymem_engine.shot_timing import FPS
from storymem_engine.story import Shot, Take


def _normal(take: Take, start: int, stop: int) -> tuple[int, int]:
    """(trim_in, trim_out) as a take stores them: an out point on the clip's last frame is no out point."""
    return start, 0 if stop >= take.frames else stop


def with_in(take: Take, frame: int) -> tuple[int, int]:
    """The take's points with its in point on ``frame``; an out point before it goes, as in an editor."""
    frame = max(0, min(frame, take.frames - 1))
    _start, stop = take.cut_range()
    return _normal(take, frame, stop if stop > frame else take.frames)


def with_out(take: Take, frame: int) -> tuple[int, int]:
    """The take's points with ``frame`` its last frame on the cut; an in point after it goes."""
    frame = max(0, min(frame, take.frames - 1))
    start, _stop = take.cut_range()
    return _normal(take, start if start <= frame else 0, frame + 1)


def trim_words(take: Take) -> str:
    """"frames 6–70 of 81 on the cut (4.1 s of 5.1 s)", or "" for a take that plays whole."""
    if not take.trimmed:
        return ""
    start, stop = take.cut_range()
    return (f"frames {start + 1}–{stop} of {take.frames} on the cut ({(stop - start) / FPS:.1f} s of "
            f"{take.frames / FPS:.1f} s)")


def cut_jumps(shots: list[Shot], row: int) -> str:
    """Where the accepted take of shot ``row`` (0-based) makes the cut jump: a trimmed end that the next shot
    continues from, or a trimmed start where it continues the shot before (the shots were generated to join
    there); "" when it joins as generated."""
    take = shots[row].accepted()
    if take is None or not take.trimmed:
        return ""
    start, stop = take.cut_range()
    if stop < take.frames and row + 1 < len(shots) and not shots[row + 1].cut:
        return f"shot {row + 2} continues from this take's last frame, so the cut jumps there"
    if start > 0 and row > 0 and not shots[row].cut:
        return f"this shot continues shot {row}, so the cut jumps where it starts"
    return ""
