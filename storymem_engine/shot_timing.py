"""How long a shot runs on the cut (Qt-free): the accepted take's frames (as trimmed), else its animatic card's
length.

The film export, the timeline exports, the PDF storyboard, the shot list and the inspector all read a shot's
length here, so the editor's cut, the crews' paperwork and the rendered film agree frame for frame.
"""

from __future__ import annotations

from storymem_engine.story import Shot, Story

FPS = 16  # Wan2.2 generates at 16 frames per second; every export keeps that rate


def card_frames(shot: Shot, default_frames: int, fps: int = FPS) -> int:
    """An animatic card lasts the shot's duration_s, else frames / fps seconds."""
    if shot.duration_s:
        return max(int(round(shot.duration_s * fps)), 1)
    return max(shot.frames or default_frames, 1)


def shot_frames(shot: Shot, default_frames: int, fps: int = FPS) -> int:
    """Frames the shot fills on the cut: its accepted take's clip between its in and out points when it has one,
    else its card."""
    take = shot.accepted()
    if take is not None and take.frames > 0:
        start, stop = take.cut_range()
        return stop - start
    return card_frames(shot, default_frames, fps)


def seconds(frames: int, fps: int = FPS) -> float:
    return frames / fps


def running_time(story: Story, default_frames: int, fps: int = FPS) -> float:
    return seconds(sum(shot_frames(s, default_frames, fps) for s in story.shots), fps)


def clock(total_seconds: float) -> str:
    """A running time as crews write it: 1:05.3 (minutes:seconds), or 1:02:05.3 past an hour."""
    minutes, secs = divmod(total_seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"
