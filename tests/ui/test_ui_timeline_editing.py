"""Add, insert, duplicate, delete, reorder (actions, keys, model) with undo and redo; prompt merging."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QTest
from ui_helpers import ids, prompts, show_active

from storyboard.reorder import order_after_move, shifted_rows


def act(win, name: str) -> None:
    win.actions_by_name[name].trigger()


def test_sample_story_fills_the_timeline(window):
    assert window.model.rowCount() == 6
    assert len({s.scene_num for s in window.project.story.shots}) == 2
    assert window.inspector.prompt.toPlainText() == window.project.story.shots[0].prompt
    assert not window.isWindowModified()


def test_add_insert_duplicate_delete_with_undo_redo(window):
    start_ids, start_prompts = ids(window), prompts(window)
    act(window, "add_shot")
    assert window.model.rowCount() == 7 and window.current_row() == 6
    assert window.isWindowModified()

    window.edits.select_shots([start_ids[1]])
    act(window, "insert_after")
    assert window.model.rowCount() == 8 and window.current_row() == 2
    assert window.project.story.shots[2].prompt == ""

    window.edits.select_shots([start_ids[0]])
    act(window, "duplicate")
    assert prompts(window)[1] == start_prompts[0] and ids(window)[1] != start_ids[0]

    window.edits.select_shots([start_ids[3], start_ids[4]])  # multi-select delete
    act(window, "delete")
    assert start_ids[3] not in ids(window) and start_ids[4] not in ids(window)
    after = ids(window)

    window.undo_stack.undo()  # the deleted shots come back selected: what Del would now act on is in view
    assert ids(window)[window.edits.selected_rows()[0]] == start_ids[3]
    assert [ids(window)[r] for r in _highlighted(window)] == start_ids[3:5]
    for _ in range(3):
        window.undo_stack.undo()
    assert ids(window) == start_ids and prompts(window) == start_prompts
    assert not window.isWindowModified()
    # The added shot undone: the shot it followed is selected, never an invisible current shot.
    assert _highlighted(window) == [5] and window.edits.selected_rows() == [5]
    for _ in range(4):
        window.undo_stack.redo()
    assert ids(window) == after
    # As after the delete itself: the shot now where the first deleted one was.
    assert [ids(window)[r] for r in _highlighted(window)] == [start_ids[5]]


def _highlighted(window) -> list[int]:
    return sorted(i.row() for i in window.timeline.selectionModel().selectedIndexes())


def test_reorder_by_move_command_and_keys(window, qtbot):
    start = ids(window)
    window.edits.move([start[0], start[2]], 5)  # drag-style: two cards before card 6
    assert ids(window) == order_after_move(start, [start[0], start[2]], 5)
    window.undo_stack.undo()
    assert ids(window) == start

    show_active(window, qtbot)
    window.timeline.setFocus()
    window.edits.select_shots([start[1]])
    QTest.keyClick(window.timeline, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert ids(window)[2] == start[1]
    QTest.keyClick(window.timeline, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    QTest.keyClick(window.timeline, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert ids(window)[0] == start[1]
    QTest.keyClick(window.timeline, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)  # at the start
    assert ids(window)[0] == start[1] and window.undo_stack.count() == 3
    QTest.keyClick(window.timeline, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ids(window)[1] == start[1]
    QTest.keyClick(window.timeline, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert ids(window)[0] == start[1]

    QTest.keyClick(window.timeline, Qt.Key.Key_Delete)
    assert start[1] not in ids(window)
    QTest.keyClick(window.timeline, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert window.model.rowCount() == 6


def test_model_move_rows_moves_story_shots(window):
    start = ids(window)
    assert window.model.moveRows(QModelIndex(), 4, 2, QModelIndex(), 0)
    assert ids(window) == start[4:] + start[:4]
    assert not window.model.moveRows(QModelIndex(), 0, 2, QModelIndex(), 1)  # into itself
    assert not window.model.moveRows(QModelIndex(), 5, 2, QModelIndex(), 0)  # out of range


def test_reorder_helpers():
    assert order_after_move("abcdef", "be", 0) == list("beacdf")
    assert order_after_move("abcdef", "a", 6) == list("bcdefa")
    assert order_after_move("abcdef", "c", 3) == list("abcdef")
    assert shifted_rows(5, [0], -1) is None and shifted_rows(5, [4], 1) is None
    assert shifted_rows(5, [1, 2], 1) == 4 and shifted_rows(5, [1, 2], -1) == 0


def test_prompt_typing_merges_into_one_undo_step(window, qtbot):
    show_active(window, qtbot)
    original = window.project.story.shots[0].prompt
    editor = window.inspector.prompt
    editor.setFocus()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    QTest.keyClicks(editor, " Seagulls circle overhead.")
    shot = window.project.story.shots[0]
    assert shot.prompt == original + " Seagulls circle overhead."
    assert window.undo_stack.count() == 1  # one burst, one step

    window.timeline.setFocus()  # leaving and coming back starts a new step
    editor.setFocus()
    QTest.keyClicks(editor, " Rain.")
    assert window.undo_stack.count() == 2

    QTest.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # reaches the stack
    assert shot.prompt == original + " Seagulls circle overhead."
    window.undo_stack.undo()
    assert shot.prompt == original and editor.toPlainText() == original
    window.undo_stack.redo()
    assert editor.toPlainText() == original + " Seagulls circle overhead."


def test_undo_and_redo_keys_reach_the_stack_from_a_number_field(window, qtbot):
    """Ctrl+Z in the Seed box undid nothing (the spin box ate the shortcut); Ctrl+Y is Redo there as elsewhere."""
    show_active(window, qtbot)
    shot = window.project.story.shots[0]
    seed = window.inspector.seed
    seed.setFocus()
    seed.lineEdit().selectAll()
    QTest.keyClicks(seed, "4242")
    QTest.keyClick(seed, Qt.Key.Key_Tab)
    assert shot.seed == 4242
    seed.setFocus()
    QTest.keyClick(seed, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert shot.seed != 4242 and seed.value() != 4242
    QTest.keyClick(seed, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert shot.seed == 4242 and seed.value() == 4242
    editor = window.inspector.prompt
    editor.setFocus()
    QTest.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(editor, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # Redo from the prompt too
    assert shot.seed == 4242


def test_inspector_fields_are_undoable(window):
    shot = window.project.story.shots[3]
    window.edits.select_shots([shot.id])
    inspector = window.inspector
    inspector.cut.setChecked(True)
    inspector.mode.setCurrentIndex(inspector.mode.findData("mm2v"))
    inspector.seed.setValue(42)
    inspector.frames.setValue(49)
    inspector.guidance.setValue(5.0)
    inspector.notes.setPlainText("wider lens")
    assert (shot.cut, shot.mode, shot.seed, shot.frames, shot.guidance, shot.notes) == (
        True, "mm2v", 42, 49, 5.0, "wider lens")
    while window.undo_stack.canUndo():
        window.undo_stack.undo()
    assert (shot.cut, shot.mode, shot.seed, shot.frames, shot.guidance, shot.notes) == (
        False, "auto", None, None, None, "")
    assert inspector.seed.value() == -1 and inspector.mode.currentData() == "auto"


def test_generate_menu_is_enabled_with_cancel_only_while_running(window):
    for name in ("generate_shot", "generate_from_here", "generate_stale", "generate_all"):
        assert window.actions_by_name[name].isEnabled()
    assert not window.actions_by_name["generate_cancel"].isEnabled()


def test_mouse_wheel_scrolls_the_strip_sideways(window, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    for _ in range(20):
        window.edits.add_shot()
    show_active(window, qtbot)
    bar = window.timeline.horizontalScrollBar()
    bar.setValue(0)
    assert bar.maximum() > 0
    event = QWheelEvent(QPointF(50, 50), QPointF(50, 50), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(window.timeline.viewport(), event)
    assert bar.value() > 0


def cuts(win) -> list[bool]:
    return [s.cut for s in win.project.story.shots]


def test_ctrl_k_marks_and_unmarks_scene_cuts_on_the_selected_shots(window, qtbot):
    from storyboard.menus import timeline_menu

    start = cuts(window)
    assert start == [True, True, True, False, True, True]
    show_active(window, qtbot)
    window.timeline.setFocus()
    window.edits.select_shots([window.project.story.shots[r].id for r in (2, 3)])
    QTest.keyClick(window.timeline, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert cuts(window)[2:4] == [True, True]  # one of them was not: every one is a cut now
    assert window.undo_stack.undoText() == "Mark scene cut (shot 4)"
    assert window.statusBar().currentMessage() == (
        "Shot 4 is a scene cut now: made from memory alone (M2V), in scene 1 still (Ctrl+Shift+K, Edit > Start a "
        "new scene here, starts one at the current shot).")
    window.edits.select_shots([window.project.story.shots[r].id for r in (2, 3)])
    assert window.inspector.cut.isChecked()
    QTest.keyClick(window.timeline, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)  # all were: none is now
    assert cuts(window)[2:4] == [False, False] and window.undo_stack.count() == 2  # two presses, two steps
    assert window.statusBar().currentMessage() == "Shots 3–4 continue the shot before now."
    assert not window.inspector.cut.isChecked()  # the inspector shows the shot as it is now
    window.actions_by_name["undo"].trigger()
    assert cuts(window)[2:4] == [True, True]
    # The step's own message would now say the opposite of the timeline: the undo says what it undid.
    assert window.statusBar().currentMessage() == "Undone: Remove scene cut (shots 3–4)"
    window.actions_by_name["undo"].trigger()
    assert cuts(window) == start and not window.isWindowModified()
    window.actions_by_name["redo"].trigger()
    assert window.statusBar().currentMessage() == "Redone: Mark scene cut (shot 4)"
    window.undo_stack.undo()

    window.edits.select_shots([window.project.story.shots[0].id])
    assert window.edits.toggle_scene_cut() and not window.project.story.shots[0].cut
    assert window.statusBar().currentMessage() == ("Shot 1 is marked as continuing now: it opens the story either "
                                                   "way (the mark counts once it moves).")
    window.undo_stack.undo()

    editor = window.inspector.prompt  # Ctrl+K while typing is the text field's own key, not a scene cut
    editor.setFocus()
    QTest.keyClick(editor, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert cuts(window) == start
    card = [a.text().replace("&", "") for a in timeline_menu(window, on_card=True).actions() if a.text()]
    assert "Toggle scene cut" in card


def test_ctrl_shift_k_starts_a_new_scene_at_the_current_shot_and_numbers_the_later_ones_on(window, qtbot):
    """Ctrl+K on shot 4 left it in scene 1 (a cut is how a shot is generated, not where a scene starts), and a
    Scene number typed into shot 4 alone left scene 1 in two pieces."""
    shots = window.project.story.shots
    scenes = lambda: [shot.scene_num for shot in shots]  # noqa: E731
    assert scenes() == [1, 1, 1, 1, 2, 2] and cuts(window)[3] is False
    show_active(window, qtbot)
    window.timeline.setFocus()
    window.edits.select_shots([shots[3].id])
    keys = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window.timeline, Qt.Key.Key_K, keys)
    assert scenes() == [1, 1, 1, 2, 3, 3] and cuts(window)[3] is True
    assert window.undo_stack.undoText() == "Start scene 2 at shot 4"
    assert window.statusBar().currentMessage() == (
        "Scene 2 is shot 4 now; the scene after it numbered one up; shot 4 is a scene cut (made from memory alone, "
        "M2V). Edit > Undo puts the scenes back.")
    window.edits.select_shots([shots[1].id])  # the middle of scene 1: shots 2-3 go, shot 4's scene follows on
    assert window.edits.start_scene_here()
    assert scenes() == [1, 2, 2, 3, 4, 4]
    assert window.statusBar().currentMessage().startswith("Scene 2 is shots 2–3 now; the 2 scenes after it")
    assert not window.edits.start_scene_here()  # shot 2 opens its scene already
    assert window.statusBar().currentMessage() == "Shot 2 already opens scene 2."
    window.undo_stack.undo()
    window.undo_stack.undo()  # one step each
    assert scenes() == [1, 1, 1, 1, 2, 2] and cuts(window)[3] is False and not window.isWindowModified()


def test_a_scene_cut_removed_from_a_made_shot_says_its_take_is_stale(window, recorded_dialogs, tmp_path):
    from ui_helpers import add_take, statuses

    from storyboard.memory import memory_for

    recorded_dialogs.paths.append(str(tmp_path / "k.storymem"))
    assert window.files.save_as()
    add_take(window.project, 0)
    add_take(window.project, 1)  # made from memory alone (M2V), as a scene cut is, on shot 1's keyframes
    settings = window.render_settings()
    window.project.story.shots[1].accepted().request["memory_keys"] = [
        k.key for k in memory_for(window.project.story, 1, settings.memory_size, settings.memory_sink)]
    assert statuses(window)[1] == "done"
    window.edits.select_shots([window.project.story.shots[1].id])
    assert window.edits.toggle_scene_cut()
    assert statuses(window)[1] == "stale"
    assert window.statusBar().currentMessage() == (
        "Shot 2 continues the shot before now. Shot 2 had a take, now stale: Generate > Regenerate stale shots "
        "redoes it.")


def test_a_setting_changed_with_several_shots_selected_is_set_on_all_of_them(window, qtbot):
    shots = window.project.story.shots
    prompts_before = prompts(window)
    window.edits.select_shots([shots[r].id for r in (1, 2, 3)])
    inspector = window.inspector
    assert inspector.title() == "Shot 2  ·  3 selected"
    note = inspector.selection_note
    assert note.isVisibleTo(window) and note.text().startswith("Settings changed here go to shots 2–4;")
    assert "differ in scene cut" in note.text()  # shot 4 continues, shots 2 and 3 are cuts

    inspector.frames.setValue(49)
    inspector.frames.setValue(53)  # typing on: one undo step for the three shots
    inspector.shot_size.setCurrentIndex(inspector.shot_size.findData("close-up"))
    assert [s.frames for s in shots] == [None, 53, 53, 53, None, None]
    assert [s.shot_size for s in shots[1:4]] == ["close-up"] * 3 and shots[0].shot_size == ""
    assert window.undo_stack.undoText() == "Edit shot size of shots 2–4"
    # The status bar: the cut's running time (81-frame cards and three of 53 frames), the selection's in brackets.
    qtbot.waitUntil(lambda: "6 shots · 2 scenes · 0:25.1 · 0 accepted takes · 3 selected (0:09.9) · " in
                    window.shot_count_label.text())
    assert "Set the shot size of shots 2–4" in window.statusBar().currentMessage()
    inspector.prompt.setPlainText("only the shown shot's")
    assert prompts(window) == ["only the shown shot's" if i == 1 else p for i, p in enumerate(prompts_before)]

    window.undo_stack.undo()
    window.undo_stack.undo()
    assert [s.shot_size for s in shots[1:4]] == [""] * 3 and [s.frames for s in shots[1:4]] == [53] * 3
    window.undo_stack.undo()
    assert [s.frames for s in shots] == [None] * 6 and not window.isWindowModified()

    window.timeline.selectAll()  # one edit of every shot repaints once: 1,000 shots took 4.5 s as 1,000 edits
    repaints = []
    window.model.dataChanged.connect(lambda *args: repaints.append(args))
    inspector.steps.setValue(8)
    assert [s.steps for s in shots] == [8] * 6 and len(repaints) == 1
    window.undo_stack.undo()

    window.edits.select_shots([shots[4].id])  # one shot again: no note, the title is the shot's
    assert inspector.title() == "Shot 5" and not note.isVisibleTo(window)


def test_shift_extends_the_selection_from_the_shot_last_chosen(window, qtbot):
    """Qt moves its anchor only when the current shot changes with Shift up: after Ctrl+Shift+A added a shot,
    Shift+Left selected from the first card to the sixth."""
    show_active(window, qtbot)
    view = window.timeline
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Home)
    control_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(view, Qt.Key.Key_A, control_shift)  # the new shot 7 is selected, its prompt focused
    QTest.keyClick(window.focusWidget(), Qt.Key.Key_Escape)
    QTest.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert window.edits.selected_rows() == [5, 6] and window.current_row() == 5
    QTest.keyClick(view, Qt.Key.Key_Home, Qt.KeyboardModifier.ShiftModifier)
    assert window.edits.selected_rows() == list(range(7)) and window.current_row() == 0

    def click(row: int, modifier=Qt.KeyboardModifier.NoModifier) -> list[int]:
        point = view.visualRect(window.model.index(row)).center()
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, point)
        return window.edits.selected_rows()

    assert click(2) == [2]
    assert click(4, Qt.KeyboardModifier.ShiftModifier) == [2, 3, 4]
    assert click(0, Qt.KeyboardModifier.ShiftModifier) == [0, 1, 2]  # still from shot 3
    assert click(5, Qt.KeyboardModifier.ControlModifier) == [0, 1, 2, 5]
    window.edits.select_shots([window.project.story.shots[3].id])  # chosen by the app (Find, paste, undo)
    assert click(5, Qt.KeyboardModifier.ShiftModifier) == [3, 4, 5]
    assert window.inspector.title() == "Shot 6  ·  3 selected"


def test_ctrl_alt_a_selects_the_scene_of_the_current_shot(window, qtbot):
    show_active(window, qtbot)
    shots = window.project.story.shots
    window.edits.select_shots([shots[2].id])
    window.timeline.setFocus()
    QTest.keyClick(window.timeline, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert window.edits.selected_rows() == [0, 1, 2, 3]  # scene 1 of the sample story
    assert window.statusBar().currentMessage() == "Selected scene 1: shots 1–4"
    assert window.inspector.title() == "Shot 1  ·  4 selected"
    window.edits.select_shots([shots[5].id])
    assert window.edits.select_scene() and window.edits.selected_rows() == [4, 5]


def test_a_shot_moved_into_another_scene_does_not_count_a_scene_twice(window, qtbot):
    shots = window.project.story.shots  # the sample: scene 1 (shots 1-4), scene 2 (shots 5-6)
    window.edits.move([shots[4].id], 0)  # scene 2's opening cut first: scene 2 in two pieces, counted once
    assert [s.scene_num for s in window.project.story.shots] == [1, 1, 1, 1, 1, 2]
    qtbot.waitUntil(lambda: window.shot_count_label.text().startswith("6 shots · 2 scenes · "))


def test_no_move_leaves_a_scene_in_two_pieces():
    """A scene cut moved to either end, away from the rest of its scene, split it ("scene_num 2 appears twice" on
    Export story JSON); a whole scene moved keeps its number, and a cut where two scenes meet keeps its own."""
    from storyboard.reorder import order_after_move, scenes_after_move

    order = list("abcdef")
    scenes = dict(zip(order, [1, 1, 1, 1, 2, 2], strict=True))
    cuts = {"a", "e"}

    def move(ids: str, dest: int) -> list[int]:
        after = order_after_move(order, list(ids), dest)
        new = {**scenes, **scenes_after_move(after, scenes, cuts, set(ids))}
        return [new[i] for i in after]

    assert move("e", 0) == [1, 1, 1, 1, 1, 2]  # scene 2's cut first: joins scene 1
    assert move("a", 6) == [1, 1, 1, 2, 2, 2]  # scene 1's cut last: joins scene 2
    assert move("ef", 0) == [2, 2, 1, 1, 1, 1]  # scene 2 whole, first
    assert move("e", 2) == [1, 1, 1, 1, 1, 2]  # a cut inside scene 1
    assert move("d", 6) == [1, 1, 1, 2, 2, 2]  # a continuing shot joins the shot before
