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
