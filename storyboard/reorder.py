"""Pure list reordering used by the timeline (no Qt): move a set of items before an index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def order_after_move(order: Sequence[T], moving: Sequence[T], dest: int) -> list[T]:
    """The order after moving ``moving`` (kept in their current relative order) before ``dest``.

    ``dest`` is an index into ``order`` *before* the move (``len(order)`` means "at the end"),
    the same convention as ``QAbstractItemModel.moveRows``' destination row.
    """
    moving_set = set(moving)
    block = [item for item in order if item in moving_set]
    before = [item for item in order[:dest] if item not in moving_set]
    after = [item for item in order[dest:] if item not in moving_set]
    return before + block + after


def shifted_rows(count: int, rows: Sequence[int], step: int) -> int | None:
    """Destination (moveRows convention) for nudging ``rows`` one place left (-1) or right (+1).

    Returns None when the block is already at that end of the timeline.
    """
    if not rows:
        return None
    lo, hi = min(rows), max(rows)
    if step < 0:
        return None if lo == 0 else lo - 1
    return None if hi >= count - 1 else hi + 2


def _split_scenes(order: Sequence[str], scenes: dict[str, int]) -> set[int]:
    """The scene numbers that show in more than one run of shots along ``order``."""
    seen: set[int] = set()
    split: set[int] = set()
    previous = None
    for shot_id in order:
        scene = scenes[shot_id]
        if scene != previous:
            if scene in seen:
                split.add(scene)
            seen.add(scene)
        previous = scene
    return split


def scenes_after_move(order: Sequence[str], scenes: dict[str, int], cuts: set[str], moved: set[str]) -> dict[str, int]:
    """The moved shots' scene numbers after a move to ``order``, for those that change.

    A moved shot that continues the shot before it joins that shot's scene. A scene cut keeps its scene, as it opens
    one, unless that would leave a scene in two pieces (a story script holds each scene once, and Ctrl+Alt+A could
    not select it whole): landed inside a scene it joins it, and at either end of the timeline, away from the rest
    of its own scene, it joins its neighbour's.
    """
    scenes = dict(scenes)
    rows = [(row, shot_id) for row, shot_id in enumerate(order) if shot_id in moved]
    for row, shot_id in rows:
        if row == 0:
            continue
        left = scenes[order[row - 1]]
        right = next((scenes[i] for i in order[row + 1:] if i not in moved), None)
        if shot_id not in cuts or right == left:
            scenes[shot_id] = left
    split = _split_scenes(order, scenes)
    for row, shot_id in rows:
        if scenes[shot_id] not in split:
            continue
        neighbour = order[row - 1] if row > 0 else order[row + 1] if row + 1 < len(order) else None
        if neighbour is not None and scenes[neighbour] != scenes[shot_id]:
            scenes[shot_id] = scenes[neighbour]
            split = _split_scenes(order, scenes)
    return {shot_id: scenes[shot_id] for _row, shot_id in rows}
