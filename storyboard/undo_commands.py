"""Every timeline edit as a QUndoCommand (add, insert, duplicate, delete, move, field edits, takes, memory pins)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from storyboard.reorder import order_after_move, scenes_after_move
from storyboard.shot_fields import field_words
from storyboard.shot_numbers import shots_in_words
from storyboard.timeline_model import TimelineModel
from storymem_engine.cast import CastMember
from storymem_engine.project import Project
from storymem_engine.render_settings import RenderSettings
from storymem_engine.story import Shot, Soundtrack, Story, Take

# Fields whose edits merge while the user keeps typing (one undo step per burst).
MERGING_FIELDS = ("prompt", "notes", "seed", "frames", "steps", "guidance", "duration_s")
MERGE_WINDOW_S = 2.0
_FIELD_IDS = {name: 1000 + i for i, name in enumerate(MERGING_FIELDS)}


# Selects shots on the timeline by id (EditController.select_shots): undo and redo of adding or removing shots
# select what they changed, so the selection the user sees is what Del, Ctrl+K and the inspector act on.
Select = Callable[[list[str]], None]


def _near(model: TimelineModel, row: int) -> list[str]:
    """The id of the shot at ``row``, or of the nearest one (none in an empty story)."""
    shots = model.shots
    return [shots[max(0, min(row, len(shots) - 1))].id] if shots else []


def removed_shot(stack, shot_id: str) -> Shot | None:
    """The Shot object an undo step holds while it is off the timeline (deleted, cut, or an added shot undone), so
    what happens to it meanwhile (a take the queue finished for it) comes back with it."""
    commands = [stack.command(i) for i in range(stack.count())]
    while commands:
        command = commands.pop()
        commands.extend(command.child(i) for i in range(command.childCount()))
        held = [shot for _row, shot in getattr(command, "removed", ())] + list(getattr(command, "shots", ()))
        found = next((shot for shot in held if isinstance(shot, Shot) and shot.id == shot_id), None)
        if found is not None:
            return found
    return None


class InsertShotsCommand(QUndoCommand):
    """Insert shots at a row (used by add, insert after, duplicate, paste)."""

    def __init__(self, model: TimelineModel, row: int, shots: Sequence[Shot], text: str,
                 select: Select = lambda _ids: None) -> None:
        super().__init__(text)
        self.model = model
        self.row = row
        self.shots = list(shots)
        self.select = select

    def redo(self) -> None:
        self.model.insert_shots(self.row, self.shots)
        self.select([shot.id for shot in self.shots])

    def undo(self) -> None:
        self.model.remove_rows([self.model.row_of(shot.id) for shot in self.shots])
        self.select(_near(self.model, self.row - 1))  # the shot they were added after


class DeleteShotsCommand(QUndoCommand):
    def __init__(self, model: TimelineModel, rows: Sequence[int], select: Select = lambda _ids: None) -> None:
        rows = sorted(set(rows))
        # Named by their numbers: the Undo history listed five "Delete shot" steps to choose between.
        super().__init__(f"Delete {shots_in_words(rows)}")
        self.model = model
        self.removed: list[tuple[int, Shot]] = [(r, model.shot_at(r)) for r in rows]
        self.select = select

    def redo(self) -> None:
        assert all(self.model.shot_at(row) is shot for row, shot in self.removed)
        self.model.remove_rows([row for row, _shot in self.removed])
        # The shot now where the first removed one was (the last one when the removed ones ended the story).
        self.select(_near(self.model, self.removed[0][0]))

    def undo(self) -> None:
        self.model.insert_rows(self.removed)
        self.select([shot.id for _row, shot in self.removed])


class MoveShotsCommand(QUndoCommand):
    """Move shots (kept in their relative order) before ``dest`` (moveRows convention).

    Moved shots may join the scene they land in (``scenes_after_move``); Undo puts the scene numbers back.
    """

    def __init__(self, model: TimelineModel, shot_ids: Sequence[str], dest: int) -> None:
        self.model = model
        self.before = model.shot_ids()
        moved = set(shot_ids)
        super().__init__(f"Move {shots_in_words([r for r, i in enumerate(self.before) if i in moved])}")
        self.after = order_after_move(self.before, list(shot_ids), dest)
        shots = {shot.id: shot for shot in model.shots}
        self.old_scenes = {shot_id: shots[shot_id].scene_num for shot_id in shot_ids}
        scenes = scenes_after_move(self.after, {shot_id: shot.scene_num for shot_id, shot in shots.items()},
                                   {shot_id for shot_id, shot in shots.items() if shot.cut}, moved)
        self.new_scenes: dict[str, int] = {i: n for i, n in scenes.items() if n != self.old_scenes[i]}

    def is_noop(self) -> bool:
        return self.before == self.after

    def redo(self) -> None:
        self.model.set_order(self.after)
        if self.new_scenes:
            self.model.set_shots_field("scene_num", self.new_scenes)

    def undo(self) -> None:
        if self.new_scenes:
            self.model.set_shots_field("scene_num", {i: self.old_scenes[i] for i in self.new_scenes})
        self.model.set_order(self.before)


class EditShotCommand(QUndoCommand):
    """Set one field of one shot, or of several shots (to one value, or each its own: ``per_shot``), as one model
    change. Consecutive edits of the same field of the same shots within ``MERGE_WINDOW_S`` of each other and in
    the same editing burst merge into one undo step."""

    def __init__(self, model: TimelineModel, shot_ids: str | Sequence[str], name: str, value: Any,
                 burst: int = 0) -> None:
        self.shot_ids = [shot_ids] if isinstance(shot_ids, str) else list(shot_ids)
        row = {shot.id: r for r, shot in enumerate(model.shots)}
        which = shots_in_words(sorted(row[i] for i in self.shot_ids))
        super().__init__(f"Edit {field_words(name)} of {which}" if len(self.shot_ids) > 1 else
                         f"Edit {field_words(name)} ({which})")
        self.model = model
        self.name = name
        self.old = {i: copy.deepcopy(getattr(model.shot_at(row[i]), name)) for i in self.shot_ids}
        self.new = {i: value for i in self.shot_ids}
        self.burst = burst
        self.stamp = time.monotonic()

    @classmethod
    def per_shot(cls, model: TimelineModel, name: str, values: dict[str, Any]) -> EditShotCommand:
        """Each shot (by id) its own new value, e.g. every prompt a Replace all changed."""
        command = cls(model, list(values), name, None)
        command.new = dict(values)
        return command

    def id(self) -> int:
        return _FIELD_IDS.get(self.name, -1)

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditShotCommand):
            return False
        if other.shot_ids != self.shot_ids or other.name != self.name or other.burst != self.burst:
            return False
        if other.stamp - self.stamp > MERGE_WINDOW_S:
            return False
        self.new = other.new
        self.stamp = other.stamp
        return True

    def redo(self) -> None:
        self.model.set_shots_field(self.name, {i: copy.deepcopy(self.new[i]) for i in self.shot_ids})

    def undo(self) -> None:
        self.model.set_shots_field(self.name, {i: copy.deepcopy(self.old[i]) for i in self.shot_ids})


def fallback_take(takes: Sequence[Take]) -> str | None:
    """The take to accept when the accepted one goes: the newest one that finished, or none."""
    usable = [t for t in takes if t.status == "done" and t.clip]
    return usable[-1].id if usable else None


class DeleteTakeCommand(QUndoCommand):
    """Remove one take from a shot (its files stay on disk, so undo brings it back whole).

    When it was the accepted take, the newest remaining finished take is accepted instead (or none).
    Redo and undo remove and re-insert this one take, so takes that arrive meanwhile are kept.
    """

    def __init__(self, model: TimelineModel, shot_id: str, take_id: str) -> None:
        self.model = model
        self.shot_id = shot_id
        row = model.row_of(shot_id)
        shot = model.shot_at(row)
        self.position = next(i for i, t in enumerate(shot.takes) if t.id == take_id)
        self.take = shot.takes[self.position]
        self.was_accepted = shot.accepted_take == take_id
        super().__init__(f"Delete take {self.take.number} of shot {row + 1}")

    def _shot(self) -> Shot:
        return self.model.shot_at(self.model.row_of(self.shot_id))

    def redo(self) -> None:
        takes = [t for t in self._shot().takes if t.id != self.take.id]
        if self.was_accepted:
            self.model.set_shot_field(self.shot_id, "accepted_take", fallback_take(takes))
        self.model.set_shot_field(self.shot_id, "takes", takes)

    def undo(self) -> None:
        takes = list(self._shot().takes)
        if all(t.id != self.take.id for t in takes):
            takes.insert(min(self.position, len(takes)), self.take)
        self.model.set_shot_field(self.shot_id, "takes", takes)
        if self.was_accepted:
            self.model.set_shot_field(self.shot_id, "accepted_take", self.take.id)


class TrimTakeCommand(QUndoCommand):
    """Set a take's in and out points (Playback > Set in / Set out / Clear), one undo step each. The take is found
    by id at redo and undo, so takes a render adds meanwhile are left alone."""

    def __init__(self, model: TimelineModel, shot_id: str, take_id: str, points: tuple[int, int], text: str) -> None:
        super().__init__(text)
        self.model = model
        self.shot_id, self.take_id = shot_id, take_id
        take = self._take()
        assert take is not None
        self.old = (take.trim_in, take.trim_out)
        self.new = points

    def _take(self) -> Take | None:
        return self.model.shot_at(self.model.row_of(self.shot_id)).take(self.take_id)

    def _apply(self, points: tuple[int, int]) -> None:
        take = self._take()
        if take is None:  # gone from the project file under the app (another program's save): nothing to set
            return
        take.trim_in, take.trim_out = points
        self.model.refresh_all()  # the card's length and the cut's running time follow

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)


class MemoryChoicesCommand(QUndoCommand):
    """Set the story's memory pins and exclusions (lists of keyframe keys) as one undo step."""

    def __init__(self, model: TimelineModel, pins: Sequence[str], exclusions: Sequence[str], text: str) -> None:
        super().__init__(text)
        self.model = model
        self.story = model.project.story
        self.old = (list(self.story.memory_pins), list(self.story.memory_exclusions))
        self.new = (list(pins), list(exclusions))

    def is_noop(self) -> bool:
        return self.old == self.new

    def _apply(self, pins: list[str], exclusions: list[str]) -> None:
        self.story.memory_pins = list(pins)
        self.story.memory_exclusions = list(exclusions)
        self.model.refresh_all()  # later shots' memory (and so their stale badges) may change

    def redo(self) -> None:
        self._apply(*self.new)

    def undo(self) -> None:
        self._apply(*self.old)


def duplicate_shot(shot: Shot) -> Shot:
    """A copy with a fresh id and no takes (a duplicate is a new shot to generate)."""
    clone = copy.deepcopy(shot)
    clone.id = Shot(prompt="").id
    clone.takes = []
    clone.last_take_number = 0
    clone.accepted_take = None
    clone.cut = shot.cut
    return clone


class SetRenderSettingsCommand(QUndoCommand):
    """Change the project's render settings (Generate > Render settings); ``changed`` refreshes the panels."""

    def __init__(self, project: Project, settings: RenderSettings, changed: Callable[[], None]) -> None:
        super().__init__("Change render settings")
        self.project = project
        self.before = project.settings
        self.after = settings
        self.changed = changed

    def redo(self) -> None:
        self.project.settings = self.after
        self.changed()

    def undo(self) -> None:
        self.project.settings = self.before
        self.changed()


class SetCastCommand(QUndoCommand):
    """Any change of the cast (add, rename, attach, remove): the whole cast before and after. Image files copied
    into references/ stay on disk when undone, as takes' files do."""

    def __init__(self, story: Story, after: list[CastMember], text: str, changed: Callable[[], None]) -> None:
        super().__init__(text)
        self.story = story
        self.before = copy.deepcopy(story.cast)
        self.after = copy.deepcopy(after)
        self.changed = changed

    def redo(self) -> None:
        self.story.cast = copy.deepcopy(self.after)
        self.changed()

    def undo(self) -> None:
        self.story.cast = copy.deepcopy(self.before)
        self.changed()


class SetSoundtrackCommand(QUndoCommand):
    """Set, change or remove the soundtrack (File > Soundtrack). A copied music file stays on disk when undone."""

    def __init__(self, story: Story, soundtrack: Soundtrack | None, text: str, changed: Callable[[], None]) -> None:
        super().__init__(text)
        self.story = story
        self.before, self.after = story.soundtrack, soundtrack
        self.changed = changed

    def redo(self) -> None:
        self.story.soundtrack = self.after
        self.changed()

    def undo(self) -> None:
        self.story.soundtrack = self.before
        self.changed()


class SetStoryDetailsCommand(QUndoCommand):
    """File > Story name and overview; ``changed`` retitles the window."""

    def __init__(self, story: Story, name: str, overview: str, changed: Callable[[], None]) -> None:
        super().__init__(f"Rename the story “{name}”" if name != story.name else "Change the story's overview")
        self.story, self.changed = story, changed
        self.before = (story.name, story.overview)
        self.after = (name, overview)

    def redo(self) -> None:
        self.story.name, self.story.overview = self.after
        self.changed()

    def undo(self) -> None:
        self.story.name, self.story.overview = self.before
        self.changed()
