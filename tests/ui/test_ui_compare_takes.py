"""Playback > Compare takes (Ctrl+Shift+T): two takes of a shot side by side, frame for frame together from each
one's in point, with Accept under each (one undo step, the labels follow undo)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from ui_helpers import add_take, show_active, write_clip

from storyboard.compare_takes import CompareTakesDialog
from storymem_engine.story import Take

WAIT_MS = 15_000


def _shot_with_two_takes(window, tmp_path, recorded_dialogs):
    recorded_dialogs.paths.append(str(tmp_path / "compare.storymem"))
    assert window.files.save_as()
    project = window.project
    add_take(project, 0, frames=12)
    shot = project.story.shots[0]
    clip = f"takes/{shot.id}/second/clip.mp4"
    write_clip(project.folder / clip, 9, shade=200)
    shot.add_take(Take(id="second", request={"mode": "t2v", "seed": 7}, clip=clip, frames=9))
    shot.takes[0].trim_in = 3  # the accepted take starts at its 4th frame on the cut
    window.set_project(project, window.project_path)
    window.edits.select_shots([shot.id])
    return shot


def test_two_takes_play_together_and_either_can_be_accepted(window, qtbot, tmp_path, recorded_dialogs):
    shot = _shot_with_two_takes(window, tmp_path, recorded_dialogs)
    show_active(window)
    window.timeline.setFocus()
    QTest.keyClick(window.timeline, Qt.Key.Key_T,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, CompareTakesDialog) and w.isVisible())
    left, right = dialog.players
    qtbot.waitUntil(lambda: left.play_button.isEnabled() and right.play_button.isEnabled(), timeout=WAIT_MS)
    first = dialog.choices[0].currentText()
    assert first.startswith("★ Take 1") and "frames 4–12 of 12" in first
    assert dialog.choices[1].currentText() == "Take 2 · seed 7"
    assert left.slider.value() == 3 and right.slider.value() == 0  # each from its own in point

    left.slider.setValue(6)
    assert right.slider.value() == 3  # the same frame counted from each in point
    right.slider.setValue(1)
    assert left.slider.value() == 4

    left.play_button.setChecked(True)  # one plays, the other follows its frames
    qtbot.waitUntil(lambda: not left.play_button.isChecked(), timeout=WAIT_MS)
    assert left.slider.value() == 11 and right.slider.value() == 8 and not right.play_button.isChecked()

    dialog.accepts[1].click()
    assert shot.accepted_take == "second" and dialog.accepts[1].text() == "Accepted"
    assert dialog.choices[1].currentText().startswith("★ Take 2")
    window.undo_stack.undo()
    assert shot.accepted_take == shot.takes[0].id and dialog.accepts[1].isEnabled()
    assert dialog.choices[0].currentText().startswith("★ Take 1")

    window.undo_stack.redo()
    window.edits.delete_take(shot.id, "second")  # a compared take gone: the comparison closes
    assert not dialog.isVisible()


def test_compare_needs_two_takes(window):
    window.edits.select_shots([window.project.story.shots[0].id])
    window.actions_by_name["compare_takes"].trigger()
    assert "needs a shot with two takes or more" in window.statusBar().currentMessage()
