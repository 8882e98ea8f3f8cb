"""Trimming a take: Playback > Set in point (I) / Set out point (O) / Clear (Alt+X) at the player's frame, one undo
step each; the film, the cut's playback, the running time and the saved project follow, nothing turns stale."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget
from ui_helpers import add_take, show_active, statuses

WAIT_MS = 15_000


def _red_indices(path, frames: int) -> list[int]:
    """Which source frame each frame of a video is: ui_helpers.write_clip ramps red over a clip's frames."""
    from storyboard.frames import decode_clip

    ramp = np.linspace(0, 255, frames)
    return [int(np.abs(ramp - f[..., 0].mean()).argmin()) for f in decode_clip(path)]


def _two_shots_with_takes(window, tmp_path, recorded_dialogs):
    recorded_dialogs.paths.append(str(tmp_path / "trim.storymem"))
    assert window.files.save_as()
    project = window.project
    add_take(project, 0, frames=12)
    add_take(project, 1, frames=9)
    del project.story.shots[2:]
    project.story.shots[1].cut = False  # shot 2 continues shot 1
    window.set_project(project, window.project_path)
    window.edits.select_shots([project.story.shots[0].id])
    return project, window.preview.player


def _press(window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window.timeline, key, modifier)


def test_in_and_out_points_set_with_keys_shape_the_cut_and_undo_puts_them_back(window, qtbot, tmp_path,
                                                                              recorded_dialogs):
    project, player = _two_shots_with_takes(window, tmp_path, recorded_dialogs)
    qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=WAIT_MS)
    before = statuses(window)
    show_active(window)
    window.timeline.setFocus()
    take = project.story.shots[0].accepted()

    player.slider.setValue(3)  # the counter's frame 4
    _press(window, Qt.Key.Key_I)
    assert (take.trim_in, take.trim_out) == (3, 0)
    assert "frames 4–12 of 12 on the cut" in window.statusBar().currentMessage()
    player.slider.setValue(8)
    _press(window, Qt.Key.Key_O)
    assert (take.trim_in, take.trim_out) == (3, 9)
    assert player.trim_bar.span == (3, 9, 12)
    assert "6 of 12 frames" in window.preview.takes.currentItem().text()
    assert "frames 4–9 of 12 on the cut" in window.preview.details.text()
    assert window.inspector.cut_duration.text() == "0.38 s (6 frames at 16 fps, trimmed from 12)"
    tip = window.model.index(0).data(Qt.ItemDataRole.ToolTipRole).replace("\n", " ")
    assert "Trimmed: frames 4–9 of 12 on the cut" in tip and "shot 2 continues from this take's last frame" in tip
    # The running time is the trimmed take's 6 frames and shot 2's 9; trimming makes nothing stale.
    qtbot.waitUntil(lambda: " 0:00.9 " in window.shot_count_label.text(), timeout=WAIT_MS)
    assert statuses(window) == before
    assert "shot 2 continues from this take's last frame" in window.statusBar().currentMessage()

    player.slider.setValue(10)  # past the out point: shown, not played
    assert "(trimmed off)" in player.counter.text()
    # Frame by frame, and to the points: the keys editors use (, . Shift+I Shift+O).
    _press(window, Qt.Key.Key_Comma)
    assert player.slider.value() == 9
    _press(window, Qt.Key.Key_Period)
    _press(window, Qt.Key.Key_Period)
    assert player.slider.value() == 11
    _press(window, Qt.Key.Key_I, Qt.KeyboardModifier.ShiftModifier)
    assert player.slider.value() == 3 and player.counter.text() == "4 / 12"
    _press(window, Qt.Key.Key_O, Qt.KeyboardModifier.ShiftModifier)
    assert player.slider.value() == 8 and (take.trim_in, take.trim_out) == (3, 9)

    _press(window, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)
    assert (take.trim_in, take.trim_out) == (0, 0) and player.trim_bar.span == (0, 0, 12)
    assert window.undo_stack.undoText() == "Clear in and out points of shot 1"
    window.undo_stack.undo()
    assert (take.trim_in, take.trim_out) == (3, 9) and player.trim_bar.span == (3, 9, 12)
    window.undo_stack.undo()
    assert (take.trim_in, take.trim_out) == (3, 0)
    window.undo_stack.redo()

    assert window.files.save()
    from storymem_engine.project import load_project

    again = load_project(window.project_path).story.shots[0].accepted()
    assert (again.trim_in, again.trim_out) == (3, 9)


def test_play_plays_from_the_in_point_to_the_out_point_and_the_film_holds_those_frames(window, qtbot, tmp_path,
                                                                                     recorded_dialogs):
    project, player = _two_shots_with_takes(window, tmp_path, recorded_dialogs)
    qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=WAIT_MS)
    player.play_on.setChecked(False)
    show_active(window)
    window.timeline.setFocus()
    player.slider.setValue(2)
    _press(window, Qt.Key.Key_I)
    player.slider.setValue(6)
    _press(window, Qt.Key.Key_O)

    player.slider.setValue(0)  # before the in point: Play starts at it
    seen: list[int] = []
    player.slider.valueChanged.connect(seen.append)
    _press(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not player.play_button.isChecked(), timeout=WAIT_MS)
    assert seen[0] == 2 and player.slider.value() == 6 and max(seen) == 6

    # Loop (Ctrl+L): round again from the in point until paused.
    QTest.keyClick(window.timeline, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert player.loop.isChecked() and window.actions_by_name["loop"].isChecked()
    seen.clear()
    _press(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: seen.count(2) >= 2, timeout=WAIT_MS)  # back at the in point after the out point
    assert max(seen) == 6 and player.play_button.isChecked()
    _press(window, Qt.Key.Key_Space)
    player.loop.setChecked(False)
    assert not window.actions_by_name["loop"].isChecked()

    # Playing the cut: shot 1 from its in point to its out point, then shot 2.
    played: list[int] = []
    player.slider.valueChanged.connect(
        lambda value: played.append(value) if player.play_button.isChecked() and window.current_row() == 0 else None)
    window.playback.play_cut()
    qtbot.waitUntil(lambda: window.current_row() == 1, timeout=WAIT_MS)
    assert played == [3, 4, 5, 6]  # shown from frame 2, played on to the out point
    qtbot.waitUntil(lambda: not player.autoplay, timeout=WAIT_MS)

    out = tmp_path / "film.mp4"
    assert window.exports.export_film(out)
    # Shot 1's frames 3..7 (counted from 1), then all 9 of shot 2's.
    film = _red_indices(out, 12)
    assert len(film) == 5 + 9
    assert film[:5] == [2, 3, 4, 5, 6]


def test_trim_keys_without_a_take_say_what_is_missing(window):
    show_active(window)
    window.timeline.setFocus()
    window.edits.select_shots([window.project.story.shots[0].id])
    _press(window, Qt.Key.Key_I)
    assert window.statusBar().currentMessage() == "Select a shot with a take to trim it."
    assert not window.undo_stack.canUndo()


def _drag(bar, from_x: int, to_x: int, qtbot) -> None:
    """A mouse drag along the trim bar, as a user's hand makes it: press, a few moves, release."""
    y = bar.height() // 2
    QTest.mousePress(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(from_x, y))
    for x in (from_x + (to_x - from_x) * k // 4 for k in range(1, 5)):
        QTest.mouseMove(bar, QPoint(x, y))
    QTest.mouseRelease(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(to_x, y))


def test_dragging_the_ends_of_the_players_bar_moves_the_in_and_out_points(window, qtbot, tmp_path, recorded_dialogs):
    project, player = _two_shots_with_takes(window, tmp_path, recorded_dialogs)
    qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=WAIT_MS)
    take = project.story.shots[0].accepted()
    bar = player.trim_bar
    assert bar.draggable and bar.span == (0, 0, 12) and "Drag either end" in bar.toolTip()
    width = bar.width()
    assert width > 100

    def at(frame: int) -> int:  # where frame ``frame`` starts
        return int(width * frame / 12)

    # The out handle sits at the bar's right end; let go after frame 9 (the counter's 9): frames 1-9 stay.
    shown: list[int] = []
    bar.handle_moved.connect(lambda _which, frame: shown.append(frame))
    _drag(bar, width - 1, at(9), qtbot)
    assert (take.trim_in, take.trim_out) == (0, 9)
    assert shown[0] == 11 and shown[-1] == 8  # the frame under the handle showed all along
    assert player.counter.text() == "9 / 12" and not player.play_button.isChecked()
    assert window.undo_stack.undoText() == "Set out point of shot 1"
    assert bar.span == (0, 9, 12)
    assert "9 of 12 frames" in window.preview.takes.currentItem().text()

    # The in handle, dragged past the out point, stops at it: one frame stays on the cut.
    _drag(bar, 0, width - 1, qtbot)
    assert (take.trim_in, take.trim_out) == (8, 9)
    assert window.undo_stack.undoText() == "Set in point of shot 1"
    # Two handles a few pixels apart can both still be taken: the out point back to the clip's end.
    _drag(bar, at(9) + 2, width - 1, qtbot)
    assert (take.trim_in, take.trim_out) == (8, 0)

    # A press on a handle let go where it was changes nothing and adds no undo step.
    count = window.undo_stack.count()
    _drag(bar, at(8), at(8), qtbot)
    assert window.undo_stack.count() == count
    # A press away from the handles does nothing either.
    _drag(bar, at(3), at(1), qtbot)
    assert (take.trim_in, take.trim_out) == (8, 0) and window.undo_stack.count() == count

    # Esc while dragging lets go with the point where it was, and the frame it was on shown again.
    y = bar.height() // 2
    QTest.mousePress(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(at(8), y))
    QTest.mouseMove(bar, QPoint(at(2), y))
    assert player.counter.text() == "3 / 12  (in point)"  # where the in point would go
    QTest.keyClick(bar, Qt.Key.Key_Escape)
    QTest.mouseRelease(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(at(2), y))
    assert (take.trim_in, take.trim_out) == (8, 0) and window.undo_stack.count() == count
    assert player.counter.text() == "9 / 12" and QWidget.keyboardGrabber() is None

    for _ in range(3):
        window.undo_stack.undo()
    assert (take.trim_in, take.trim_out) == (0, 0) and bar.span == (0, 0, 12)

    # Another clip shown mid-drag (the selection moved, a take came in): the drag ends there, the new take untouched.
    QTest.mousePress(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(width - 1, y))
    QTest.mouseMove(bar, QPoint(at(6), y))  # shot 1's out point on its way to frame 6
    window.edits.select_shots([project.story.shots[1].id])
    qtbot.waitUntil(lambda: bar.span[2] == 9, timeout=WAIT_MS)
    QTest.mouseRelease(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(0, y))
    assert QWidget.keyboardGrabber() is None
    second = project.story.shots[1].accepted()
    assert (second.trim_in, second.trim_out) == (0, 0) and window.undo_stack.count() == count

