"""Every timeline edit as a QUndoCommand (add, insert, duplicate, delete, move, field edits)."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from storyboard.reorder import order_after_move
from storyboard.timeline_model import TimelineModel
from storymem_engine.story import Shot

# Fields whose edits merge while the user keeps typing (one undo step per burst).
MERGING_FIELDS = ("prompt", "notes", "seed", "frames", "steps", "guidance", "duration_s")
MERGE_WINDOW_S = 2.0
_FIELD_IDS = {name: 1000 + i for i, name in enumerate(MERGING_FIELDS)}


class InsertShotsCommand(QUndoCommand):
    """Insert shots at a row (used by add, insert after, duplicate, paste)."""

    def __init__(self, model: TimelineModel, row: int, shots: Sequence[Shot], text: str) -> None:
        super().__init__(text)
        self.model = model
        self.row = row
        self.shots = list(shots)

    def redo(self) -> None:
        self.model.insert_shots(self.row, self.shots)

    def undo(self) -> None:
        for shot in self.shots:
            self.model.remove_shot(self.model.row_of(shot.id))


class DeleteShotsCommand(QUndoCommand):
    def __init__(self, model: TimelineModel, rows: Sequence[int]) -> None:
        rows = sorted(set(rows))
        super().__init__("Delete shot" if len(rows) == 1 else f"Delete {len(rows)} shots")
        self.model = model
        self.removed: list[tuple[int, Shot]] = [(r, model.shot_at(r)) for r in rows]

    def redo(self) -> None:
        for row, shot in reversed(self.removed):
            assert self.model.shot_at(row) is shot
            self.model.remove_shot(row)

    def undo(self) -> None:
        for row, shot in self.removed:
            self.model.insert_shots(row, [shot])


class MoveShotsCommand(QUndoCommand):
    """Move shots (kept in their relative order) before ``dest`` (moveRows convention)."""

    def __init__(self, model: TimelineModel, shot_ids: Sequence[str], dest: int) -> None:
        super().__init__("Move shot" if len(shot_ids) == 1 else f"Move {len(shot_ids)} shots")
        self.model = model
        self.before = model.shot_ids()
        self.after = order_after_move(self.before, list(shot_ids), dest)

    def is_noop(self) -> bool:
        return self.before == self.after

    def redo(self) -> None:
        self.model.set_order(self.after)

    def undo(self) -> None:
        self.model.set_order(self.before)


class EditShotCommand(QUndoCommand):
    """Set one field of one shot. Consecutive edits of the same field of the same shot within
    ``MERGE_WINDOW_S`` of each other and in the same editing burst merge into one undo step."""

    def __init__(self, model: TimelineModel, shot_id: str, name: str, value: Any, burst: int = 0) -> None:
        shot = model.shot_at(model.row_of(shot_id))
        super().__init__(f"Edit {name.replace('_', ' ')}")
        self.model = model
        self.shot_id = shot_id
        self.name = name
        self.old = copy.deepcopy(getattr(shot, name))
        self.new = value
        self.burst = burst
        self.stamp = time.monotonic()

    def id(self) -> int:
        return _FIELD_IDS.get(self.name, -1)

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditShotCommand):
            return False
        if other.shot_id != self.shot_id or other.name != self.name or other.burst != self.burst:
            return False
        if other.stamp - self.stamp > MERGE_WINDOW_S:
            return False
        self.new = other.new
        self.stamp = other.stamp
        return True

    def redo(self) -> None:
        self.model.set_shot_field(self.shot_id, self.name, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.model.set_shot_field(self.shot_id, self.name, copy.deepcopy(self.old))


def duplicate_shot(shot: Shot) -> Shot:
    """A copy with a fresh id and no takes (a duplicate is a new shot to generate)."""
    clone = copy.deepcopy(shot)
    clone.id = Shot(prompt="").id
    clone.takes = []
    clone.accepted_take = None
    clone.cut = shot.cut
    return clone
