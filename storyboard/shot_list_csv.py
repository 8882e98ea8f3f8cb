"""The shot list as CSV (one row per shot in timeline order), written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from storymem_engine.atomic import atomic_write_text
from storymem_engine.story import Story

COLUMNS = ("shot", "scene", "cut", "id", "prompt", "mode", "seed", "frames", "steps", "guidance",
           "duration_s", "status", "accepted_take", "clip", "notes")


def shot_list_rows(story: Story, statuses: list[str]) -> list[dict[str, object]]:
    rows = []
    for number, (shot, status) in enumerate(zip(story.shots, statuses, strict=True), start=1):
        take = shot.accepted()
        rows.append({
            "shot": number, "scene": shot.scene_num, "cut": "yes" if shot.cut else "no", "id": shot.id,
            "prompt": shot.prompt, "mode": shot.mode, "seed": _blank(shot.seed), "frames": _blank(shot.frames),
            "steps": _blank(shot.steps), "guidance": _blank(shot.guidance),
            "duration_s": _blank(shot.duration_s), "status": status,
            "accepted_take": take.id if take else "", "clip": take.clip if take else "", "notes": shot.notes,
        })
    return rows


def write_shot_list(story: Story, statuses: list[str], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(shot_list_rows(story, statuses))
    atomic_write_text(Path(path), buffer.getvalue())


def _blank(value: object) -> object:
    return "" if value is None else value
