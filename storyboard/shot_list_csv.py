"""The shot list as CSV (one row per shot in timeline order), written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from storymem_engine.atomic import atomic_write_text
from storymem_engine.render_settings import RenderSettings
from storymem_engine.shot_timing import FPS, shot_frames
from storymem_engine.story import Story

# "accepted_take" is the take's number ("Take 2" in the takes list); "clip" is relative to the project folder.
# "seed", "frames", "steps" and "guidance" are the shot's own settings
# (blank: the project's). "seconds" is the shot's length on the cut (its take between its in and out points, else
# its animatic card) at 16 fps; "duration_s" is the animatic length the user set, blank when it follows the
# frames; "take_seed" and "take_mode" are what the accepted take was made with (the seed and mode that make it
# again, where "seed" is blank and "mode" says auto); "clip_in" and "clip_out" are the first and last frame of
# the clip on the cut, counted from 1 as the player counts.
COLUMNS = ("shot", "scene", "cut", "id", "prompt", "shot_size", "camera_move", "seconds", "mode", "seed", "frames",
           "steps", "guidance", "duration_s", "status", "accepted_take", "take_seed", "take_mode", "clip", "clip_in",
           "clip_out", "notes")


def shot_list_rows(story: Story, statuses: list[str],
                   default_frames: int = RenderSettings.frames) -> list[dict[str, object]]:
    rows = []
    for number, (shot, status) in enumerate(zip(story.shots, statuses, strict=True), start=1):
        take = shot.accepted()
        start, stop = take.cut_range() if take is not None else (0, 0)
        rows.append({
            "shot_size": shot.shot_size, "camera_move": shot.camera_move,
            "seconds": f"{shot_frames(shot, default_frames) / FPS:.3f}",
            "shot": number, "scene": shot.scene_num, "cut": "yes" if shot.cut else "no", "id": shot.id,
            "prompt": shot.prompt, "mode": shot.mode, "seed": _blank(shot.seed), "frames": _blank(shot.frames),
            "steps": _blank(shot.steps), "guidance": _blank(shot.guidance),
            "duration_s": _blank(shot.duration_s), "status": status,
            "accepted_take": take.number if take else "", "clip": take.clip if take else "",
            "take_seed": _blank(take.request.get("seed")) if take else "",
            "take_mode": _blank(take.request.get("mode")) if take else "",
            "clip_in": start + 1 if stop else "", "clip_out": stop or "", "notes": shot.notes,
        })
    return rows


def write_shot_list(story: Story, statuses: list[str], path: Path,
                    default_frames: int = RenderSettings.frames) -> None:
    """UTF-8 with a byte order mark: Excel reads a file without one in the local code page ("CafÃ©"); LibreOffice,
    Numbers, Sheets and Python's utf-8-sig read it either way."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = shot_list_rows(story, statuses, default_frames)
    writer.writerows({key: _as_text(value) for key, value in row.items()} for row in rows)
    atomic_write_text(Path(path), "\ufeff" + buffer.getvalue())


def _as_text(value: object) -> object:
    """A prompt or a note starting with =, + or @ is text, not a formula a spreadsheet would run."""
    if isinstance(value, str) and value[:1] in ("=", "+", "@"):
        return "'" + value
    return value


def _blank(value: object) -> object:
    return "" if value is None else value
