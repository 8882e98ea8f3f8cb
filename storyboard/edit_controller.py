"""Timeline editing: add, insert after, duplicate, delete, move (keys and drag), field edits.

Each edit becomes one command on the window's QUndoStack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel

from storyboard.reorder import shifted_rows
from storyboard.undo_commands import (
    DeleteShotsCommand,
    EditShotCommand,
    InsertShotsCommand,
    MoveShotsCommand,
    duplicate_shot,
)
from storymem_engine.story import Shot

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow


class EditController:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    @property
    def model(self):
        return self.window.model

    # ------------------------------------------------------------ selection helpers
    def selected_rows(self) -> list[int]:
        view = self.window.timeline
        rows = sorted({i.row() for i in view.selectionModel().selectedIndexes()})
        if not rows and view.currentIndex().isValid():
            rows = [view.currentIndex().row()]
        return rows

    def select_shots(self, shot_ids: Sequence[str]) -> None:
        view = self.window.timeline
        selection = QItemSelection()
        rows = [self.model.row_of(i) for i in shot_ids]
        for row in rows:
            index = self.model.index(row)
            selection.select(index, index)
        flags = QItemSelectionModel.SelectionFlag
        if rows:
            view.selectionModel().setCurrentIndex(self.model.index(rows[0]), flags.NoUpdate)
            view.selectionModel().select(selection, flags.ClearAndSelect)
            view.scrollTo(self.model.index(rows[-1]))

    # ------------------------------------------------------------ commands
    def _new_shot(self, after_row: int | None) -> Shot:
        shots = self.model.shots
        if not shots:
            return Shot(prompt="", cut=True, scene_num=1)
        neighbour = shots[after_row if after_row is not None else len(shots) - 1]
        return Shot(prompt="", cut=False, scene_num=neighbour.scene_num)

    def add_shot(self) -> None:
        shot = self._new_shot(None)
        self._push(InsertShotsCommand(self.model, len(self.model.shots), [shot], "Add shot"))
        self.select_shots([shot.id])
        self.window.inspector.prompt.setFocus()

    def insert_after(self) -> None:
        rows = self.selected_rows()
        row = rows[-1] if rows else len(self.model.shots) - 1
        shot = self._new_shot(row if rows or self.model.shots else None)
        self._push(InsertShotsCommand(self.model, row + 1, [shot], "Insert shot"))
        self.select_shots([shot.id])
        self.window.inspector.prompt.setFocus()

    def duplicate(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        clones = [duplicate_shot(self.model.shot_at(r)) for r in rows]
        text = "Duplicate shot" if len(clones) == 1 else f"Duplicate {len(clones)} shots"
        self._push(InsertShotsCommand(self.model, rows[-1] + 1, clones, text))
        self.select_shots([c.id for c in clones])

    def delete(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        self._push(DeleteShotsCommand(self.model, rows))
        if self.model.shots:
            self.select_shots([self.model.shot_at(min(rows[0], len(self.model.shots) - 1)).id])

    def nudge(self, step: int) -> None:
        rows = self.selected_rows()
        dest = shifted_rows(len(self.model.shots), rows, step)
        if dest is None:
            return
        self.move([self.model.shot_at(r).id for r in rows], dest)

    def move(self, shot_ids: list[str], dest: int) -> None:
        command = MoveShotsCommand(self.model, shot_ids, dest)
        if command.is_noop():
            return
        self._push(command)
        self.select_shots(shot_ids)

    def edit_field(self, shot_id: str, name: str, value: Any, burst: int = 0) -> None:
        self._push(EditShotCommand(self.model, shot_id, name, value, burst))

    def accept_take(self, shot_id: str, take_id: str) -> None:
        command = EditShotCommand(self.model, shot_id, "accepted_take", take_id)
        command.setText("Accept take")
        self._push(command)

    def _push(self, command) -> None:
        self.window.undo_stack.push(command)
