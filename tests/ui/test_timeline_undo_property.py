"""Any sequence of timeline edits, undos and redos (menu actions, inspector fields, find and replace, takes, trims,
memory pins, render settings, as a user makes them) leaves the project exactly as it was at that point of the undo
history, the inspector on the selected shot, and every card's badge and the memory strip as a fresh open of the
project would show them. A model of the history (the project after each undo step) is checked after every
action."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from ui_helpers import statuses, write_clip

from storyboard.find_replace_dialog import replace_in_prompts
from storyboard.memory import memory_for
from storyboard.memory_strip import KEY_ROLE, STATE_ROLE, strip_entries
from storyboard.prompt_replace import PromptReplace
from storyboard.shot_status import shot_status
from storyboard.timeline_model import ShotRole
from storyboard.undo_commands import SetRenderSettingsCommand
from storymem_engine.project import AUTOSAVE_FILE, Project, project_from_dict
from storymem_engine.render_settings import RenderSettings
from storymem_engine.story import Shot, Story, Take

PROMPTS = st.text(alphabet="ab ,é\n", max_size=12)


def _story(window) -> str:
    return json.dumps(window.project.to_dict(), sort_keys=True)


class TimelineEdits(RuleBasedStateMachine):
    window = None  # set per test

    def __init__(self) -> None:
        super().__init__()
        win = self.window
        win.undo_stack.setClean()
        QGuiApplication.clipboard().clear()  # what an earlier example copied would make a replay paste otherwise
        self.start()
        win.undo_stack.clear()
        self.stack = win.undo_stack
        self.history = [_story(win)]  # the story at each undo index

    def start(self) -> None:
        assert self.window.files.open_sample()

    # ------------------------------------------------------------ helpers
    def _rows(self) -> int:
        return len(self.window.project.story.shots)

    def _after_edit(self, before_count: int, before_index: int) -> None:
        """A push either added a step (history after it is dropped), merged into the last one, or did nothing."""
        index = self.stack.index()
        if self.stack.count() == before_count and index == before_index and self._merged_or_none(index):
            return
        del self.history[index:]
        self.history.append(_story(self.window))
        assert len(self.history) == index + 1

    def _merged_or_none(self, index: int) -> bool:
        current = _story(self.window)
        if current == self.history[index]:
            return True
        assert index > 0, "the story changed without an undo step"
        self.history[index] = current  # merged into the step before (typing in one field)
        return True

    def _do(self, action: str) -> None:
        count, index = self.stack.count(), self.stack.index()
        self.window.actions_by_name[action].trigger()
        self._after_edit(count, index)

    # ------------------------------------------------------------ rules
    @precondition(lambda self: self._rows() > 0)
    @rule(data=st.data())
    def select(self, data) -> None:
        rows = data.draw(st.lists(st.integers(0, self._rows() - 1), min_size=1, max_size=3, unique=True))
        shots = self.window.project.story.shots
        self.window.edits.select_shots([shots[r].id for r in rows])

    @rule(action=st.sampled_from(["add_shot", "insert_after", "duplicate", "delete", "cut", "copy", "paste"]))
    def edit_menu(self, action: str) -> None:
        self._do(action)

    @rule()
    def scene_cut(self) -> None:
        """Edit > Toggle scene cut (Ctrl+K) on the selected shots: one macro step."""
        self._do("scene_cut")

    @rule(left=st.booleans())
    def nudge(self, left: bool) -> None:
        self._do("move_left" if left else "move_right")

    @precondition(lambda self: self._rows() > 1)
    @rule(data=st.data())
    def drag(self, data) -> None:
        """A drop of the selected cards before a row, as the drag gesture ends in MoveShotsCommand."""
        rows = self.window.edits.selected_rows()
        if not rows:
            return
        dest = data.draw(st.integers(0, self._rows()))
        shots = self.window.project.story.shots
        count, index = self.stack.count(), self.stack.index()
        self.window.edits.move([shots[r].id for r in rows], dest)
        self._after_edit(count, index)

    @precondition(lambda self: self.window.inspector.shot is not None)
    @rule(text=PROMPTS, append=st.booleans())
    def type_prompt(self, text: str, append: bool) -> None:
        box = self.window.inspector.prompt
        count, index = self.stack.count(), self.stack.index()
        box.setPlainText(box.toPlainText() + text if append else text)
        self._after_edit(count, index)

    @rule(find=st.text(alphabet="ab é", min_size=1, max_size=2), replace=PROMPTS, whole_words=st.booleans(),
          selected=st.booleans())
    def replace_in_prompts(self, find: str, replace: str, whole_words: bool, selected: bool) -> None:
        """Edit > Find and replace in prompts, Replace all: one macro step of prompt edits."""
        rows = self.window.edits.selected_rows() if selected else list(range(self._rows()))
        count, index = self.stack.count(), self.stack.index()
        replace_in_prompts(self.window, PromptReplace(find, replace, whole_words=whole_words), rows)
        self._after_edit(count, index)

    @precondition(lambda self: self.window.inspector.shot is not None)
    @rule()
    def toggle_cut(self) -> None:
        count, index = self.stack.count(), self.stack.index()
        self.window.inspector.cut.toggle()
        self._after_edit(count, index)

    @precondition(lambda self: self.window.inspector.shot is not None)
    @rule(scene=st.integers(1, 4), frames=st.sampled_from([0, 17, 33]))
    def set_numbers(self, scene: int, frames: int) -> None:
        inspector = self.window.inspector
        for spin, value in ((inspector.scene, scene), (inspector.frames, frames)):
            count, index = self.stack.count(), self.stack.index()
            spin.setValue(value)
            self._after_edit(count, index)

    @rule(times=st.integers(1, 3))
    def undo(self, times: int) -> None:
        for _ in range(times):
            self.window.actions_by_name["undo"].trigger()
        assert _story(self.window) == self.history[self.stack.index()]

    @rule(times=st.integers(1, 3))
    def redo(self, times: int) -> None:
        for _ in range(times):
            self.window.actions_by_name["redo"].trigger()
        assert _story(self.window) == self.history[self.stack.index()]

    # ------------------------------------------------------------ what the user sees
    @invariant()
    def timeline_shows_the_story(self) -> None:
        win = self.window
        shots = win.project.story.shots
        assert win.model.rowCount() == len(shots)
        assert [win.model.index(r).data(ShotRole.SHOT_ID) for r in range(len(shots))] == [s.id for s in shots]
        assert len({s.id for s in shots}) == len(shots), "two cards share one shot"

    @invariant()
    def inspector_shows_the_current_shot(self) -> None:
        win = self.window
        row = win.current_row()
        shot = win.model.shot_at(row) if row is not None else None
        assert win.inspector.shot is shot
        if shot is not None:
            assert win.inspector.prompt.toPlainText() == shot.prompt
            assert win.inspector.cut.isChecked() == shot.cut
            assert win.inspector.scene.value() == shot.scene_num
            rows = win.edits.selected_rows()
            many = f"  ·  {len(rows)} selected" if row in rows and len(rows) > 1 else ""
            assert win.inspector.title() == f"Shot {row + 1}{many}"
            assert win.inspector.selection_note.isVisibleTo(win) == bool(many)

    def teardown(self) -> None:
        """Undo everything: the sample story as it opened; redo everything: the last state again."""
        stack = self.stack
        top = stack.index()
        last = self.history[top]
        stack.setIndex(0)
        assert _story(self.window) == self.history[0]
        stack.setIndex(top)
        assert _story(self.window) == last


def test_any_edit_sequence_undoes_and_redoes_exactly(window) -> None:
    TimelineEdits.window = window
    run_state_machine_as_test(
        TimelineEdits,
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None,
                          suppress_health_check=list(HealthCheck)),
    )


# ---------------------------------------------------------------- a project whose shots have takes

SHOTS, TAKES = 4, 2


def _write_project_with_takes(folder: Path) -> None:
    """Four shots (the third continues the second), two real takes each (clip, keyframes, last frame), each take's
    request recording the memory it was made with, as the director records it; the second take accepted."""
    from PySide6.QtGui import QColor, QImage

    story = Story(name="Takes", shots=[Shot(prompt=f"shot {n}", cut=n != 2, scene_num=1) for n in range(SHOTS)])
    settings = RenderSettings(memory_size=3, memory_sink=1)
    project = Project(folder=folder, story=story, settings=settings)
    for index, shot in enumerate(story.shots):
        before = story.shots[index - 1].accepted() if index else None
        mode = "t2v" if index == 0 else "m2v" if shot.cut else "mi2v"
        for n in range(TAKES):
            take_id = f"t{index}{n}"
            rel = f"takes/{shot.id}/{take_id}"
            write_clip(folder / rel / "clip.mp4", 9, shade=60 * n)
            names = ["keyframe_0.png", "keyframe_1.png", "last.png"]
            for k, name in enumerate(names):
                image = QImage(32, 24, QImage.Format.Format_RGB888)
                image.fill(QColor.fromHsv((index * 80 + n * 30 + k * 10) % 360, 200, 200))
                image.save(str(folder / rel / name))
            request = {"mode": mode, "prompt": shot.prompt,
                       "memory_keys": [k.key for k in memory_for(story, index, settings.memory_size,
                                                                settings.memory_sink)] if index else []}
            if mode == "mi2v":
                request["first_frame"] = before.last_frame
            shot.add_take(Take(id=take_id, request=request, clip=f"{rel}/clip.mp4", frames=9,
                                   keyframes=[f"{rel}/{name}" for name in names[:2]], last_frame=f"{rel}/last.png"))
            shot.accepted_take = take_id
    project.save()


class TakeEdits(TimelineEdits):
    folder: Path = Path()  # set per test

    def start(self) -> None:
        (self.folder / AUTOSAVE_FILE).unlink(missing_ok=True)
        assert self.window.files.open_project(self.folder)

    def _push_edit(self, edit) -> None:
        count, index = self.stack.count(), self.stack.index()
        edit()
        self._after_edit(count, index)

    def _keys(self) -> list[str]:
        return [f"{take.id}:{n}" for shot in self.window.project.story.shots for take in shot.takes
                for n in range(len(take.keyframes))]

    def _draw_take(self, data) -> tuple[Shot, Take] | None:
        shots = [s for s in self.window.project.story.shots if s.takes]
        if not shots:
            return None
        shot = data.draw(st.sampled_from(shots))
        return shot, data.draw(st.sampled_from(shot.takes))

    @rule(data=st.data(), delete=st.booleans())
    def accept_or_delete_take(self, data, delete: bool) -> None:
        drawn = self._draw_take(data)
        if drawn is None:
            return
        shot, take = drawn
        edits = self.window.edits
        self._push_edit(lambda: (edits.delete_take if delete else edits.accept_take)(shot.id, take.id))

    @rule(data=st.data(), pin=st.booleans(), on=st.booleans())
    def pin_or_exclude(self, data, pin: bool, on: bool) -> None:
        keys = self._keys()
        if not keys:
            return
        chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3))
        edits = self.window.edits
        self._push_edit(lambda: (edits.set_memory_pinned if pin else edits.set_memory_excluded)(chosen, on))

    @rule(data=st.data(), out=st.booleans())
    def trim_take(self, data, out: bool) -> None:
        """Set in / Set out on any take: one undo step each, and no badge or memory moves (a trim is the cut's)."""
        from storyboard.trim_points import with_in, with_out
        from storyboard.undo_commands import TrimTakeCommand

        drawn = self._draw_take(data)
        if drawn is None:
            return
        shot, take = drawn
        points = (with_out if out else with_in)(take, data.draw(st.integers(0, take.frames - 1)))
        if points != (take.trim_in, take.trim_out):  # Set in / Set out push nothing then
            win = self.window
            self._push_edit(lambda: win.undo_stack.push(TrimTakeCommand(win.model, shot.id, take.id, points, "Trim")))

    @rule()
    def clear_pins(self) -> None:
        self._push_edit(self.window.edits.clear_memory_choices)

    @rule(size=st.sampled_from([1, 2, 3, 10]), sink=st.integers(0, 2), continuation=st.sampled_from(["mi2v", "mm2v"]))
    def render_settings(self, size: int, sink: int, continuation: str) -> None:
        win = self.window
        after = replace(win.render_settings(), memory_size=size, memory_sink=min(sink, size), continuation=continuation)
        if after != win.render_settings():  # the dialog pushes nothing when nothing changed
            self._push_edit(lambda: win.undo_stack.push(
                SetRenderSettingsCommand(win.project, after, win.render_settings_changed)))

    @invariant()
    def badges_and_memory_as_a_fresh_open_shows_them(self) -> None:
        win = self.window
        fresh = project_from_dict(self.folder, json.loads(_story(win)), "test")
        render = win.render_settings()
        size, sink = render.memory_size, render.memory_sink
        shown = statuses(win)
        assert shown == [shot_status(fresh.story, i, {}, size, sink, continuation=render.continuation)
                         for i in range(len(fresh.story.shots))]
        for row, status in enumerate(shown):
            tip = win.model.index(row).data(Qt.ItemDataRole.ToolTipRole)
            assert ("Stale:" in tip) == (status == "stale"), tip
        row = win.current_row()
        if row is not None:
            entries, _total, error = strip_entries(fresh, row, size, sink)
            strip = win.memory_strip
            assert [(i.data(KEY_ROLE), i.data(STATE_ROLE)) for i in strip.items()] == \
                [(e.keyframe.key, e.state) for e in entries]
            assert strip.error == error


def test_any_take_and_memory_edit_sequence_keeps_badges_and_memory_true(window, tmp_path) -> None:
    folder = tmp_path / "takes.storymem"
    _write_project_with_takes(folder)
    TakeEdits.window, TakeEdits.folder = window, folder
    run_state_machine_as_test(
        TakeEdits,
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None,
                          suppress_health_check=list(HealthCheck)),
    )
