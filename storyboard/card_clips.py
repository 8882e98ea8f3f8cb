"""Animatic card clips for timeline exports: a shot without a take as a short H.264 clip of its card.

The card image is the one the film export paints (storyboard.animatic.render_card), drawn once per shot and
repeated for the shot's length. The file name carries a digest of everything drawn, so exporting again reuses
cards that have not changed instead of encoding them anew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from storyboard.handoff import HandoffShot
from storymem_engine.shot_timing import FPS


def card_clip_name(item: HandoffShot, size: tuple[int, int]) -> str:
    shot = item.shot
    key = repr((shot.prompt, item.number, shot.scene_num, shot.cut, item.frames, size)).encode("utf-8")
    return f"card_shot{item.number:04d}_{hashlib.sha1(key).hexdigest()[:10]}.mp4"


def write_card_clip(item: HandoffShot, size: tuple[int, int], folder: Path,
                    cancel: Callable[[], bool] | None = None) -> Path:
    """The card clip in ``folder`` (written unless an identical one is there); needs a QGuiApplication."""
    from storyboard.animatic import render_card
    from storymem_engine.video import write_video

    path = folder / card_clip_name(item, size)
    if path.is_file():
        return path
    width, height = size
    shot = item.shot
    card = render_card(shot.prompt, item.number, shot.scene_num, shot.cut, width, height)
    write_video(path, (card for _ in range(item.frames)), fps=FPS, cancel=cancel)
    return path


def timeline_size(plan: list[HandoffShot], default: tuple[int, int]) -> tuple[int, int]:
    """The takes' size when they share one (as recorded in their requests), else the default; always even,
    as the film export sizes its cards."""
    sizes = set()
    for item in plan:
        request = item.take.request if item.take is not None else {}
        if isinstance(request.get("width"), int) and isinstance(request.get("height"), int):
            sizes.add((request["width"], request["height"]))
    width, height = sizes.pop() if len(sizes) == 1 else default
    return max(width - width % 2, 2), max(height - height % 2, 2)
