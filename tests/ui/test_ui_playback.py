"""Watching the cut in the preview: Shift+Space (Playback > Play the cut from here) plays shot after shot, each its
accepted take or its animatic card, selecting each card; Space pauses; the end of the story stops it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from ui_helpers import add_take, show_active

WAIT_MS = 15_000


def _cut_with_two_takes(window, tmp_path, recorded_dialogs):
    recorded_dialogs.paths.append(str(tmp_path / "cut.storymem"))
    assert window.files.save_as()
    project = window.project
    add_take(project, 0)
    add_take(project, 1)
    for shot in project.story.shots[2:]:
        shot.duration_s = 0.125  # 2 frames at 16 fps: the test watches the whole cut in about 2 s
    window.model.refresh_all()
    window.edits.select_shots([project.story.shots[0].id])
    return window.preview.player


def test_the_cut_plays_on_shot_after_shot_with_cards_for_shots_without_a_take(window, qtbot, tmp_path,
                                                                           recorded_dialogs):
    player = _cut_with_two_takes(window, tmp_path, recorded_dialogs)
    show_active(window)
    window.timeline.setFocus()
    QTest.keyClick(window.timeline, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
    assert "Playing the cut from shot 1" in window.statusBar().currentMessage()
    assert player.play_on.isChecked()
    qtbot.waitUntil(lambda: window.current_row() == 1 and player.play_button.isChecked(), timeout=WAIT_MS)
    assert player.counter.text().endswith("/ 9")  # shot 2's accepted take, playing
    qtbot.waitUntil(lambda: window.current_row() == 2, timeout=WAIT_MS)
    # Shot 3 has no take: its animatic card holds the screen for the card's length, as in the exported film.
    assert len(player.frames) == 2 and player.frames[0] is player.frames[1]
    qtbot.waitUntil(lambda: "End of the cut (6 shots)" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert window.current_row() == 5 and not player.play_button.isChecked() and not player.autoplay
    # Play on was ticked for the cut alone: Space plays the shown clip again, not the rest of the cut.
    assert not player.play_on.isChecked()
    player.play_on.setChecked(True)  # ticked by the user: the cut leaves it as it found it
    window.edits.select_shots([window.project.story.shots[4].id])
    window.playback.play_cut()
    qtbot.waitUntil(lambda: "End of the cut (6 shots)" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert player.play_on.isChecked()


def test_space_pauses_the_cut_where_it_is_and_plays_the_selected_shot(window, qtbot, tmp_path, recorded_dialogs):
    player = _cut_with_two_takes(window, tmp_path, recorded_dialogs)
    qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=WAIT_MS)  # shot 1's clip decoded
    player.play_on.setChecked(False)
    show_active(window)
    window.timeline.setFocus()
    QTest.keyClick(window.timeline, Qt.Key.Key_Space)
    assert player.play_button.isChecked()
    qtbot.waitUntil(lambda: not player.play_button.isChecked(), timeout=WAIT_MS)
    assert window.current_row() == 0  # without Play on, a clip plays and stops

    window.playback.play_cut()
    qtbot.waitUntil(lambda: window.current_row() == 1 and player.play_button.isChecked(), timeout=WAIT_MS)
    QTest.keyClick(window.timeline, Qt.Key.Key_Space)
    assert not player.play_button.isChecked() and not player.autoplay and not player.play_on.isChecked()
    QTest.qWait(800)  # longer than shot 2's 9 frames: the cut stays paused on it
    assert window.current_row() == 1
    # A shot without a take shows its message again once the cut is not playing.
    window.edits.select_shots([window.project.story.shots[3].id])
    assert "No takes yet" in player.screen_label.text()


def test_space_in_a_prompt_types_a_space(window):
    show_active(window)
    window.inspector.edit_prompt()
    before = window.inspector.prompt.toPlainText()
    QTest.keyClick(window.inspector.prompt, Qt.Key.Key_Space)
    assert window.inspector.prompt.toPlainText() == before + " "
    assert not window.preview.player.play_button.isChecked()


def test_unticking_play_on_ends_the_cut_with_the_clip_and_another_project_does_not_play(window, qtbot, tmp_path,
                                                                                      recorded_dialogs):
    player = _cut_with_two_takes(window, tmp_path, recorded_dialogs)
    window.playback.play_cut()
    qtbot.waitUntil(lambda: player.play_button.isChecked(), timeout=WAIT_MS)
    player.play_on.setChecked(False)
    qtbot.waitUntil(lambda: not player.play_button.isChecked(), timeout=WAIT_MS)
    assert window.current_row() == 0 and not player.autoplay
    window.edits.select_shots([window.project.story.shots[1].id])
    qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=WAIT_MS)
    assert not player.play_button.isChecked()  # selecting a card shows it; it does not start playing

    player.play_on.setChecked(True)
    window.playback.play_cut()
    window.undo_stack.setClean()
    assert window.files.open_sample()
    assert not player.autoplay and "No takes yet" in player.screen_label.text()


def test_the_next_shots_clip_is_decoded_while_the_one_before_plays(window, qtbot, tmp_path, recorded_dialogs):
    """A real 81-frame 832x480 clip takes ~0.5-1 s to decode: without the next one ready, the cut froze at each
    shot. Each clip is decoded once, and shown the moment its shot comes."""
    player = _cut_with_two_takes(window, tmp_path, recorded_dialogs)
    decoded: list[str] = []
    start = player.loader.clip
    player.loader.clip = lambda path: decoded.append(path.parent.name) or start(path)
    qtbot.waitUntil(lambda: not player.loading, timeout=WAIT_MS)
    decoded.clear()
    window.playback.play_cut()
    assert decoded == ["take0", "take1"]  # shot 1 from its first frame, and shot 2 ahead of its turn
    shown_at_once = []
    window.timeline.selectionModel().currentChanged.connect(
        lambda *_: shown_at_once.append((window.current_row(), bool(player.frames), player.loading)))
    qtbot.waitUntil(lambda: window.current_row() == 2, timeout=WAIT_MS)
    assert shown_at_once[0] == (1, True, False)  # shot 2's frames were there when its card was selected
    assert decoded == ["take0", "take1"]


def test_selecting_a_card_decodes_its_clip_once(window, qtbot, tmp_path, recorded_dialogs):
    player = _cut_with_two_takes(window, tmp_path, recorded_dialogs)
    decoded: list[str] = []
    start = player.loader.clip
    player.loader.clip = lambda path: decoded.append(path.parent.name) or start(path)
    window.edits.select_shots([window.project.story.shots[1].id])
    qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=WAIT_MS)
    assert decoded == ["take1"]  # it was decoded twice, the first result thrown away


def test_space_pressed_while_the_clip_still_loads_plays_it_once_loaded(window, qtbot, tmp_path, recorded_dialogs):
    """→ then Space at once: the clip was still decoding (a real take: about a second), Play was disabled and the
    key was lost."""
    player = _cut_with_two_takes(window, tmp_path, recorded_dialogs)
    qtbot.waitUntil(lambda: not player.loading, timeout=WAIT_MS)
    show_active(window)
    window.timeline.setFocus()
    QTest.keyClick(window.timeline, Qt.Key.Key_Right)  # shot 2: its take starts decoding
    assert player.loading and not player.play_button.isEnabled()
    QTest.keyClick(window.timeline, Qt.Key.Key_Space)
    assert player.screen_label.text().endswith("(plays when loaded)")
    qtbot.waitUntil(lambda: player.play_button.isChecked(), timeout=WAIT_MS)
    assert window.current_row() == 1 and player.counter.text().endswith("/ 9")
    QTest.keyClick(window.timeline, Qt.Key.Key_Space)  # and Space pauses it, as ever
    assert not player.play_button.isChecked()
    # Pressed twice while loading: changed its mind, nothing plays.
    QTest.keyClick(window.timeline, Qt.Key.Key_Left)
    assert player.loading
    QTest.keyClick(window.timeline, Qt.Key.Key_Space)
    QTest.keyClick(window.timeline, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not player.loading, timeout=WAIT_MS)
    assert window.current_row() == 0 and not player.play_button.isChecked()


def test_a_clicked_shots_clip_plays_while_card_thumbnails_are_still_decoding(window, qtbot, tmp_path,
                                                                            recorded_dialogs):
    """A story just opened queues a thumbnail per card: the clip of the shot the user clicks does not wait behind
    them (it did, seconds on a long story)."""
    import threading

    from storyboard import frame_loader

    player = _cut_with_two_takes(window, tmp_path, recorded_dialogs)
    qtbot.waitUntil(lambda: not player.loading, timeout=WAIT_MS)
    release = threading.Event()
    busy = [frame_loader._pool().submit(release.wait, WAIT_MS / 1000) for _ in range(8)]  # every thumbnail thread
    try:
        window.edits.select_shots([window.project.story.shots[1].id])
        qtbot.waitUntil(lambda: player.play_button.isEnabled(), timeout=WAIT_MS // 4)
        assert player.counter.text().endswith("/ 9")
    finally:
        release.set()
        for future in busy:
            future.result()
