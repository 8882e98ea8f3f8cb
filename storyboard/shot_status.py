"""A shot's status badge on the timeline (no Qt)."""

from __future__ import annotations

from collections.abc import Callable

from storyboard.memory import is_stale
from storymem_engine.project import Project
from storymem_engine.story import Story, Take

STATUSES = ("empty", "queued", "generating", "done", "stale", "failed", "missing", "damaged")


def shot_status(story: Story, index: int, live: dict[str, str], size: int = 10, sink: int = 3,
                clip_problem: Callable[[Take], str] | None = None, continuation: str = "mi2v") -> str:
    """``live`` holds the worker's transient states (shot id -> "queued" / "generating"); ``clip_problem``
    says "missing" for a take whose clip is gone from disk (deleted, moved, emptied) and "damaged" for one that
    cannot be decoded: neither is a DONE shot."""
    shot = story.shots[index]
    if shot.id in live:
        return live[shot.id]
    accepted = shot.accepted()
    if accepted is not None:
        problem = clip_problem(accepted) if clip_problem is not None else ""
        if problem:
            return problem
        return "stale" if is_stale(story, index, size, sink, continuation) else "done"
    if shot.takes and shot.takes[-1].status == "failed":
        return "failed"
    return "empty"


def clip_missing_on_disk(project: Project, take: Take) -> str:
    """ "missing" for a take whose clip is gone or empty, else "" (a headless export). Whether a clip that is there
    decodes is left to the editor's cards and to render: it reads the whole file (~50 ms for an 81-frame 832x480
    clip, 25 s for a 500-take shot list whose goal is 2 s)."""
    return "missing" if project.file_missing(take.clip) else ""
