"""A shot's status badge on the timeline (no Qt)."""

from __future__ import annotations

from collections.abc import Callable

from storyboard.memory import is_stale
from storymem_engine.story import Story, Take

STATUSES = ("empty", "queued", "generating", "done", "stale", "failed", "missing")


def shot_status(story: Story, index: int, live: dict[str, str], size: int = 10, sink: int = 3,
                clip_missing: Callable[[Take], bool] | None = None) -> str:
    """``live`` holds the worker's transient states (shot id -> "queued" / "generating"); ``clip_missing``
    says whether a take's clip is gone from disk (a deleted or moved file is not a DONE shot)."""
    shot = story.shots[index]
    if shot.id in live:
        return live[shot.id]
    accepted = shot.accepted()
    if accepted is not None:
        if clip_missing is not None and clip_missing(accepted):
            return "missing"
        return "stale" if is_stale(story, index, size, sink) else "done"
    if shot.takes and shot.takes[-1].status == "failed":
        return "failed"
    return "empty"
