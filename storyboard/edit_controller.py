"""Timeline editing: add, insert after, duplicate, delete, move (keys and drag), field edits,
accepting and deleting takes, memory pins and exclusions.

Each edit becomes one command on the window's QUndoStack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLineEdit, QPlainTextEdit

from storyboard import dialogs
from storyboard.memory import bank_frozen, is_stale
from storyboard.reorder import shifted_rows
from storyboard.shot_clipboard import ClipboardError, holds_shots, land_in_scene, shots_from_mime, shots_to_mime
from storyboard.shot_fields import SHARED_FIELDS, field_words
from storyboard.shot_numbers import shots_in_words
from storyboard.undo_commands import (
    DeleteShotsCommand,
    DeleteTakeCommand,
    EditShotCommand,
    InsertShotsCommand,
    MemoryChoicesCommand,
    MoveShotsCommand,
    duplicate_shot,
)
from storymem_engine.story import Shot
from storymem_engine.words import counted

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

    def select_scene(self) -> bool:
        """Select every shot of the current shot's scene (the run of shots under its SCENE marker), e.g. to set
        their frames or profile at once in the inspector."""
        row = self.window.current_row()
        if row is None:
            rows = self.selected_rows()
            if not rows:
                return False
            row = rows[0]
        shots = self.model.shots
        scene = shots[row].scene_num
        first, last = row, row
        while first > 0 and shots[first - 1].scene_num == scene:
            first -= 1
        while last + 1 < len(shots) and shots[last + 1].scene_num == scene:
            last += 1
        self.select_shots([shot.id for shot in shots[first:last + 1]])
        self.window.statusBar().showMessage(
            f"Selected scene {scene}: {shots_in_words(list(range(first, last + 1)))}", 5000)
        return True

    # ------------------------------------------------------------ commands
    def _new_shot(self, after_row: int | None) -> Shot:
        shots = self.model.shots
        if not shots:
            return Shot(prompt="", cut=True, scene_num=1)
        neighbour = shots[after_row if after_row is not None else len(shots) - 1]
        return Shot(prompt="", cut=False, scene_num=neighbour.scene_num)

    def add_shot(self) -> None:
        shot = self._new_shot(None)
        end = len(self.model.shots)
        self._push(InsertShotsCommand(self.model, end, [shot], f"Add shot {end + 1}", self.select_shots))
        self._write_new(end, "Added")

    def insert_after(self) -> None:
        rows = self.selected_rows()
        row = rows[-1] if rows else len(self.model.shots) - 1
        shot = self._new_shot(row if rows or self.model.shots else None)
        self._push(InsertShotsCommand(self.model, row + 1, [shot], f"Insert shot {row + 2}", self.select_shots))
        self._write_new(row + 1, "Inserted")

    def _write_new(self, row: int, verb: str) -> None:
        self.window.inspector.edit_prompt()
        self.window.statusBar().showMessage(f"{verb} shot {row + 1}: type its prompt (Esc goes back to the cards, "
                                            "Edit > Undo removes it).", 8000)

    def duplicate(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        clones = [duplicate_shot(self.model.shot_at(r)) for r in rows]
        text = f"Duplicate {shots_in_words(rows)}"
        self._push(InsertShotsCommand(self.model, rows[-1] + 1, clones, text, self.select_shots))
        one = len(clones) == 1
        made = list(range(rows[-1] + 1, rows[-1] + 1 + len(clones)))
        self.window.statusBar().showMessage(
            f"Duplicated {shots_in_words(rows)} as {shots_in_words(made)} (no takes yet: generate "
            f"{'it' if one else 'them'}; Edit > Undo removes {'it' if one else 'them'}).", 8000)

    def delete(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        takes = sum(len(self.model.shot_at(r).takes) for r in rows)
        queued = sum(1 for r in rows if self.model.in_queue(self.model.shot_at(r).id))
        self._push(DeleteShotsCommand(self.model, rows, self.select_shots))
        one = len(rows) == 1
        held = f" and {'its' if one else 'their'} {counted(takes, 'take')}" if takes else ""
        # The running queue renders the story as it was given (a later shot's memory may hold this one's take).
        still = (f"; {'it is' if queued == 1 else f'{queued} of them are'} still made by the running queue "
                 "(Cancel generation stops it) and Undo brings the take back with the shot") if queued else ""
        self.window.statusBar().showMessage(f"Deleted {shots_in_words(rows)}{held} (Edit > Undo brings "
                                            f"{'it' if one else 'them'} back){still}.", 8000 if not queued
                                            else 15_000)

    # ------------------------------------------------------------ clipboard
    @staticmethod
    def _text_field() -> QLineEdit | QPlainTextEdit | None:
        """The text field being typed in: Edit > Cut, Copy and Paste chosen from the menu act on its text there (the
        keys already do: they are the timeline's only), as in any editor."""
        focus = QApplication.focusWidget()
        return focus if isinstance(focus, QLineEdit | QPlainTextEdit) else None

    def copy(self, verb: str = "Copied") -> bool:
        field = self._text_field()
        if field is not None:
            field.copy()
            return False
        rows = self.selected_rows()
        if not rows:
            return False
        QGuiApplication.clipboard().setMimeData(shots_to_mime([self.model.shot_at(r) for r in rows]))
        self.window.statusBar().showMessage(
            f"{verb} {counted(len(rows), 'shot')} (prompts and settings; takes stay with their shots)", 5000)
        return True

    def cut(self) -> None:
        field = self._text_field()
        if field is not None:
            field.cut()
            return
        rows = self.selected_rows()
        if self.copy("Cut"):
            command = DeleteShotsCommand(self.model, rows, self.select_shots)
            command.setText(f"Cut shot {rows[0] + 1}" if len(rows) == 1 else f"Cut {len(rows)} shots")
            self._push(command)

    def paste(self) -> bool:
        """Insert the copied shots after the selection (at the end when nothing is selected), as new shots."""
        field = self._text_field()
        if field is not None:
            field.paste()
            return False
        mime = QGuiApplication.clipboard().mimeData()
        if not holds_shots(mime):
            what = "text: paste it into a shot's prompt" if mime is not None and mime.hasText() else "no shots"
            self.window.statusBar().showMessage(f"Nothing to paste on the timeline: the clipboard holds {what}.", 6000)
            return False
        try:
            shots = shots_from_mime(mime)
        except ClipboardError as exc:
            dialogs.warning(self.window, "Cannot paste", f"The shots on the clipboard cannot be pasted: {exc}.")
            return False
        rows = self.selected_rows()
        row = rows[-1] + 1 if rows else len(self.model.shots)
        here = self.model.shots
        land_in_scene(shots, here[max(row - 1, 0)].scene_num if here else 1, at_end=row == len(here))
        one = len(shots) == 1
        where = shots_in_words(list(range(row, row + len(shots))))
        self._push(InsertShotsCommand(self.model, row, shots, f"Paste as {where}", self.select_shots))
        scenes = sorted({shot.scene_num for shot in shots})
        scene = f"scene {scenes[0]}" if len(scenes) == 1 else f"scenes {scenes[0]}–{scenes[-1]}"
        self.window.statusBar().showMessage(f"Pasted {counted(len(shots), 'shot')} as {where}, in {scene} (no takes "
                                            f"yet: generate {'it' if one else 'them'})", 6000)
        return True

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
        old = sorted(command.before.index(i) for i in shot_ids)
        rows = sorted(self.model.row_of(i) for i in shot_ids)
        one = len(rows) == 1
        text = (f"{shots_in_words(old).capitalize()} {'is' if one else 'are'} {shots_in_words(rows)} now (Edit > Undo "
                f"puts {'it' if one else 'them'} back).")
        joined = sorted(self.model.row_of(i) for i in command.new_scenes)
        for cuts in (False, True):
            rows = [r for r in joined if self.model.shot_at(r).cut == cuts]
            if not rows:
                continue
            one = len(rows) == 1
            scenes = " and ".join(map(str, sorted({self.model.shot_at(r).scene_num for r in rows})))
            it = "it" if one else "they"
            why = (f"joined scene {scenes}, so no scene is in two pieces ({'a scene cut' if one else 'scene cuts'} "
                   f"still: {it} start{'s' * one} afresh)" if cuts else
                   f"continue{'s' * one} the shot before, so {it} joined scene {scenes}")
            text += f" {shots_in_words(rows).capitalize()} {why}."
        self.window.statusBar().showMessage(text, 8000)

    def toggle_scene_cut(self) -> bool:
        """Make the selected shots scene cuts, or, when every one already is, let them continue the shot before:
        one undo step, as the inspector's checkbox does for one shot."""
        rows = self.selected_rows()
        if not rows:
            return False
        cut = not all(self.model.shot_at(row).cut for row in rows)
        changed = [row for row in rows if self.model.shot_at(row).cut != cut]
        which = shots_in_words(changed)
        self.edit_fields([self.model.shot_at(row).id for row in changed], "cut", cut,
                         f"{'Mark' if cut else 'Remove'} scene cut ({which})")
        later = [row for row in changed if row > 0]  # shot 1 opens the story, whatever its mark says
        said = shots_in_words(later).capitalize() if later else ""
        if not later:
            text = ""
        elif cut:
            # A scene cut, not a new scene number (the Scene field groups shots; the cut is how one is generated).
            marks = "is a scene cut" if len(later) == 1 else "are scene cuts"
            scenes = sorted({self.model.shot_at(row).scene_num for row in later})
            text = (f"{said} {marks} now: made from memory alone (M2V), in scene {', '.join(map(str, scenes))} "
                    "still (Ctrl+Shift+K, Edit > Start a new scene here, starts one at the current shot).")
        else:
            text = f"{said} continue{'s' * (len(later) == 1)} the shot before now."
        if 0 in changed:
            text += (" " if text else "") + (f"Shot 1 is marked {'a scene cut' if cut else 'as continuing'} now: it "
                                             "opens the story either way (the mark counts once it moves).")
        stale = self.stale_rows(changed)
        if stale:
            text += (f" {shots_in_words(stale).capitalize()} had a take, now stale: Generate > Regenerate stale "
                     "shots redoes it.")
        self.window.statusBar().showMessage(text, 10000)
        return True

    def start_scene_here(self) -> bool:
        """The current shot and the rest of its scene become a new scene, numbered on from it (later scenes one
        up), the shot a scene cut: one undo step. Ctrl+K alone only changes how a shot is generated, and a Scene
        number typed into one shot left its scene in two pieces."""
        row = self.window.current_row()
        if row is None:
            rows = self.selected_rows()
            if not rows:
                return False
            row = rows[0]
        shots = self.model.shots
        scene = shots[row].scene_num
        if row == 0 or shots[row - 1].scene_num != scene:
            self.window.statusBar().showMessage(f"Shot {row + 1} already opens scene {scene}.", 5000)
            return False
        block = row
        while block < len(shots) and shots[block].scene_num == scene:
            block += 1
        numbers = {shot.id: shot.scene_num + 1 for shot in shots if shot.scene_num > scene}
        numbers.update({shot.id: scene + 1 for shot in shots[row:block]})
        was_cut = shots[row].cut
        stack = self.window.undo_stack
        stack.beginMacro(f"Start scene {scene + 1} at shot {row + 1}")
        stack.push(EditShotCommand.per_shot(self.model, "scene_num", numbers))
        if not was_cut:  # a new scene starts fresh, from memory alone
            stack.push(EditShotCommand(self.model, shots[row].id, "cut", True))
        stack.endMacro()
        later = len({n for n in numbers.values() if n > scene + 1})
        text = f"Scene {scene + 1} is {shots_in_words(list(range(row, block)))} now"
        if later:
            text += f"; the {'scene' if later == 1 else f'{later} scenes'} after it numbered one up"
        if not was_cut:
            text += f"; shot {row + 1} is a scene cut (made from memory alone, M2V)"
        stale = self.stale_rows([row]) if not was_cut else []
        if stale:
            text += ", its take stale: Generate > Regenerate stale shots redoes it"
        self.window.statusBar().showMessage(text + ". Edit > Undo puts the scenes back.", 10_000)
        return True

    def edit_field(self, shot_id: str, name: str, value: Any, burst: int = 0) -> None:
        self._push(EditShotCommand(self.model, shot_id, name, value, burst))

    def edit_fields(self, shot_ids: Sequence[str], name: str, value: Any, text: str) -> None:
        """One field of several shots set to one value, as one undo step named ``text`` (never merged: two quick
        presses stay two steps), one repaint."""
        command = EditShotCommand(self.model, list(shot_ids), name, value)
        command.setText(text)
        self._push(command)

    def edit_selected(self, shot_id: str, name: str, value: Any, burst: int = 0) -> None:
        """An inspector edit of the shown shot: a setting goes to every selected shot when the shown one is among
        them (as a file manager's properties of several files); the prompt and notes stay the shown shot's."""
        rows = self.selected_rows()
        selected = [self.model.shot_at(row).id for row in rows]
        if name not in SHARED_FIELDS or shot_id not in selected or len(selected) == 1:
            self.edit_field(shot_id, name, value, burst)
            return
        self._push(EditShotCommand(self.model, selected, name, value, burst))
        self.window.statusBar().showMessage(
            f"Set the {field_words(name)} of {shots_in_words(rows)} (Edit > Undo puts each back)", 5000)

    def accept_take(self, shot_id: str, take_id: str) -> None:
        """Accept a take (undoable) and say what it did: the later shots it made stale turned yellow in silence."""
        command = EditShotCommand(self.model, shot_id, "accepted_take", take_id)
        row = self.model.row_of(shot_id)
        shot = self.model.shot_at(row)
        take, before = shot.take(take_id), shot.accepted()
        command.setText(f"Accept take {take.number if take else 0} of shot {row + 1}")
        later = range(row + 1, self.model.rowCount())
        stale_before = set(self.stale_rows(later))
        self._push(command)
        stale = [r for r in self.stale_rows(later) if r not in stale_before]
        back = f" (Edit > Undo puts take {before.number} back)" if before is not None else " (Edit > Undo)"
        self.window.statusBar().showMessage(
            f"Accepted take {take.number if take else 0} of shot {row + 1}{back}" + (
                f"; {shots_in_words(stale)} {'is' if len(stale) == 1 else 'are'} stale now (made from the take "
                "accepted before): Generate > Regenerate stale shots" if stale else ""), 10_000)

    def delete_take(self, shot_id: str, take_id: str) -> None:
        """Remove a take from its shot (undoable; its files stay in the project folder)."""
        row = self.model.row_of(shot_id)
        shot = self.model.shot_at(row)
        deleted = shot.take(take_id)
        if deleted is None:
            return
        number = deleted.number
        # The shots after it build on its take; the shot itself gets an earlier take, made from other memory maybe.
        later_rows = range(row, len(self.model.shots))
        stale_before = self.stale_rows(later_rows)
        command = DeleteTakeCommand(self.model, shot_id, take_id)
        self._push(command)
        accepted = now.number if (now := shot.accepted()) is not None else None
        if not command.was_accepted:
            after = ""
        elif accepted is None:
            after = "; the shot has no accepted take now"
        else:
            after = f"; the newest take left, take {accepted}, is accepted now"
        stale = [r for r in self.stale_rows(later_rows) if r not in stale_before]
        own = (f" Take {accepted} is stale: it was made before the shot's memory or settings last changed."
               if row in stale and accepted is not None else "")
        stale = [r for r in stale if r != row]
        later = own + (f" {shots_in_words(stale).capitalize()} turned stale: made from the deleted take." if stale
                       else "")
        self.window.statusBar().showMessage(f"Deleted take {number} of shot {row + 1}{after} (Edit > Undo brings it "
                                            f"back).{later}", 10000)

    def stale_rows(self, rows: Sequence[int]) -> list[int]:
        """Those of ``rows`` whose accepted take is stale, sorted (the bank checked once for them all)."""
        settings = self.window.render_settings()
        story = self.model.project.story
        with bank_frozen(story):
            return sorted(row for row in rows
                          if is_stale(story, row, settings.memory_size, settings.memory_sink, settings.continuation))

    # ------------------------------------------------------------ memory pins and exclusions
    def set_memory_pinned(self, keys: Sequence[str], pinned: bool) -> bool:
        """Pin (or unpin) keyframes. Pinning an excluded keyframe includes it again."""
        story = self.model.project.story
        keys = list(dict.fromkeys(keys))
        if pinned:
            pins = story.memory_pins + [k for k in keys if k not in story.memory_pins]
            exclusions = [k for k in story.memory_exclusions if k not in keys]
        else:
            pins = [k for k in story.memory_pins if k not in keys]
            exclusions = list(story.memory_exclusions)
        if pinned and not self.pins_fit(pins, exclusions):
            return False
        verb = "Pin" if pinned else "Unpin"
        return self._push_memory(pins, exclusions,
                                 f"{verb} keyframe" if len(keys) == 1 else f"{verb} {len(keys)} keyframes")

    def set_memory_excluded(self, keys: Sequence[str], excluded: bool) -> bool:
        """Exclude keyframes from every shot's memory (or include them again). Excluding drops a pin."""
        story = self.model.project.story
        keys = list(dict.fromkeys(keys))
        if excluded:
            exclusions = story.memory_exclusions + [k for k in keys if k not in story.memory_exclusions]
            pins = [k for k in story.memory_pins if k not in keys]
        else:
            exclusions = [k for k in story.memory_exclusions if k not in keys]
            pins = list(story.memory_pins)
        verb = "Exclude" if excluded else "Include"
        return self._push_memory(pins, exclusions,
                                 f"{verb} keyframe" if len(keys) == 1 else f"{verb} {len(keys)} keyframes")

    def clear_memory_choices(self) -> bool:
        return self._push_memory([], [], "Clear memory pins and exclusions")

    def pins_fit(self, pins: list[str], exclusions: list[str]) -> bool:
        """Every shot's memory must hold its pins; otherwise say so (the engine would refuse the shot).

        A shot's bank is the keyframes of the accepted takes before it, so the pins it holds only grow
        along the story: one pass finds the first shot they overflow.
        """
        size = self.window.render_settings().memory_size
        wanted = set(pins) - set(exclusions)
        count = 0
        for index, shot in enumerate(self.model.project.story.shots):
            if count > size:
                dialogs.warning(
                    self.window, "Too many pinned keyframes",
                    f"Shot {index + 1} would have {count} pinned keyframes, but its memory holds {size} "
                    f"(Generate > Render settings > Memory size).\n\nUnpin a keyframe first, or raise the memory size.")
                return False
            take = shot.accepted()
            if take is not None:
                count += sum(1 for n in range(len(take.keyframes)) if f"{take.id}:{n}" in wanted)
        return True

    def _push_memory(self, pins: list[str], exclusions: list[str], text: str) -> bool:
        command = MemoryChoicesCommand(self.model, pins, exclusions, text)
        if command.is_noop():
            return False
        self._push(command)
        return True

    def _push(self, command) -> None:
        self.window.undo_stack.push(command)
