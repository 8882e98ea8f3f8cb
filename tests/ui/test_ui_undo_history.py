"""Edit > Undo history (Ctrl+Alt+Z): every step listed by name; a click goes back to just after it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from ui_helpers import prompts, show_active


def test_the_history_lists_each_step_and_a_click_goes_back_to_it(window, qtbot):
    start = prompts(window)
    shots = window.project.story.shots
    window.actions_by_name["add_shot"].trigger()
    window.edits.edit_field(shots[0].id, "prompt", "A gull on the lighthouse rail.")
    window.edits.select_shots([shots[1].id, shots[2].id])
    window.edits.toggle_scene_cut()
    show_active(window, qtbot)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    dialog = window.undo_history_dialog
    assert dialog is not None and dialog.isVisible()
    view = dialog.view
    rows = [view.model().index(r, 0).data() for r in range(view.model().rowCount())]
    # Each step names its shots: five "Edit frames" or "Delete shot" steps were not told apart.
    assert rows == ["As opened", "Add shot 7", "Edit prompt (shot 1)", "Remove scene cut (shots 2–3)"]

    step = view.visualRect(view.model().index(1, 0)).center()
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=step)  # just after "Add shot"
    assert window.undo_stack.index() == 1 and len(shots) == 7 and prompts(window)[:6] == start
    # The status bar says where the click went ("Removed the scene cut…" stayed up, saying what no longer was).
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith(
        "Now just after “Add shot 7” (step 1 of 3): the 2 steps after it stay until the next edit."))
    assert shots[1].cut and shots[2].cut
    view.setCurrentIndex(view.model().index(0, 0))
    assert prompts(window) == start and not window.isWindowModified()
    view.setCurrentIndex(view.model().index(3, 0))  # and forward again
    assert shots[0].prompt == "A gull on the lighthouse rail." and not shots[1].cut
    assert window.actions_by_name["undo_history"].shortcut().toString() == "Ctrl+Alt+Z"


def test_the_save_icon_marks_a_save_only_once_the_project_has_one(window, recorded_dialogs, tmp_path):
    from storyboard.undo_history import open_undo_history

    dialog = open_undo_history(window)  # the sample, never saved: "As opened" is no save
    assert dialog.view.cleanIcon().isNull() and "not saved yet" in dialog.hint.text()
    window.edits.toggle_scene_cut()
    recorded_dialogs.paths.append(str(tmp_path / "kite"))
    assert window.files.save_as()
    assert not dialog.view.cleanIcon().isNull() and "saved at" in dialog.hint.text()
    dialog.hide()
