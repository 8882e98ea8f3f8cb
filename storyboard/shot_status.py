"""A shot's status badge on the timeline (no Qt)."""

from __future__ import annotations

from storyboard.memory import is_stale
from storymem_engine.story import Story

STATUSES = ("empty", "queued", "generating", "done", "stale", "failed")


def shot_status(story: Story, index: int, live: dict[str, str], size: int = 10, sink: int = 3) -> str:
    """``live`` holds the worker's transient states (shot id -> "queued" / "generating")."""
    shot = story.shots[index]
    if shot.id in live:
        return live[shot.id]
    if shot.accepted() is not None:
        return "stale" if is_stale(story, index, size, sink) else "done"
    if shot.takes and shot.takes[-1].status == "failed":
        return "failed"
    return "empty"
