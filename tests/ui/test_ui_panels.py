"""Status badges, thumbnails, the memory strip, the preview player and the takes list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from ui_helpers import add_take, write_clip

from storyboard.main_window import AUTOSAVE_MS
from storyboard.memory import memory_for
from storyboard.timeline_model import ShotRole
from storymem_engine.story import Take


def statuses(win) -> list[str]:
    return [win.model.index(r).data(ShotRole.STATUS) for r in range(win.model.rowCount())]


def test_status_badges_thumbnails_and_memory(window, recorded_dialogs, tmp_path, qtbot):
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    story = window.project.story
    for i in (0, 1, 2):
        add_take(window.project, i, keyframes=4)
        story.shots[i].accepted().request["memory_keys"] = [k.key for k in memory_for(story, i)]
    story.shots[3].add_take(Take(id="bad", request={}, clip="", status="failed"))
    window.model.refresh_all()
    assert statuses(window) == ["done", "done", "done", "failed", "empty", "empty"]

    window.model.set_live_status(story.shots[4].id, "queued")
    window.model.set_live_status(story.shots[5].id, "generating")
    assert statuses(window)[4:] == ["queued", "generating"]
    window.model.set_live_status(story.shots[4].id, None)
    assert statuses(window)[4] == "empty"

    # Thumbnails are decoded off the UI thread: None at first, then the card repaints with the frame.
    qtbot.waitUntil(lambda: window.model.index(0).data(ShotRole.THUMBNAIL) is not None, timeout=10_000)
    thumb = window.model.index(0).data(ShotRole.THUMBNAIL)
    assert isinstance(thumb, QImage) and not thumb.isNull() and thumb.height() == 120
    assert window.model.index(4).data(ShotRole.THUMBNAIL) is None

    window.edits.select_shots([story.shots[4].id])
    strip = window.memory_strip
    # 12 keyframes before shot 5, memory 10 with sink 3: the first 3 and the newest 7 (the whole bank is shown,
    # the two left out are marked "not used").
    assert strip.list.count() == 12
    bank = [kf for s in story.shots[:3] for kf in s.accepted().keyframes]
    assert strip.keyframes == bank[:3] + bank[-7:]
    assert [strip.list.item(i).text().split("\n")[1] for i in range(12)] == (
        ["in memory"] * 3 + ["not used"] * 2 + ["in memory"] * 7)
    assert not any(strip.list.item(i).icon().isNull() for i in range(12))

    # After a reorder the first three shots would see other memory than their takes did.
    window.edits.move([story.shots[0].id], 3)
    assert statuses(window)[:4] == ["stale", "stale", "stale", "failed"]
    window.undo_stack.undo()
    assert statuses(window)[:3] == ["done", "done", "done"]


def test_preview_plays_scrubs_and_accepts_takes(window, recorded_dialogs, tmp_path, qtbot):
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    project = window.project
    add_take(project, 1, frames=9)
    shot = project.story.shots[1]
    first = shot.accepted()
    write_clip(project.folder / "takes" / "second.mp4", 13)
    shot.add_take(Take(id="second", request={}, clip="takes/second.mp4", frames=13))
    window.model.refresh_all()

    window.edits.select_shots([shot.id])
    player = window.preview.player
    assert window.preview.takes.count() == 2
    assert player.loading  # decoded on the loader thread; the UI keeps going meanwhile
    qtbot.waitUntil(lambda: not player.loading, timeout=10_000)
    assert player.counter.text() == "1 / 9"  # the accepted take plays first
    player.slider.setValue(4)
    assert player.counter.text().startswith("5 / ")
    player.play_button.setChecked(True)
    qtbot.waitUntil(lambda: player.slider.value() > 5, timeout=3000)
    player.play_button.setChecked(False)
    assert player.play_button.text() == "Play"

    window.preview.takes.setCurrentRow(1)
    window.preview.accept_button.click()
    assert shot.accepted_take == "second"
    window.undo_stack.undo()
    assert shot.accepted_take == first.id


def test_autosave_runs_every_minute(window):
    assert window.autosave_timer.isActive() and window.autosave_timer.interval() == AUTOSAVE_MS == 60_000


def test_enter_on_a_card_edits_its_prompt_and_esc_comes_back(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    third = window.project.story.shots[2]
    window.edits.select_shots([third.id])
    window.timeline.setFocus()
    qtbot.waitUntil(window.timeline.hasFocus)
    QTest.keyClick(window.timeline, Qt.Key.Key_Return)
    assert window.inspector.prompt.hasFocus()
    QTest.keyClicks(window.inspector.prompt, ", at dusk")  # typed at the end of the prompt
    assert third.prompt.endswith(", at dusk")
    QTest.keyClick(window.inspector.prompt, Qt.Key.Key_Escape)
    assert window.timeline.hasFocus() and "\x1b" not in third.prompt
    QTest.keyClick(window.timeline, Qt.Key.Key_Right)  # the cards have the keys again
    assert window.current_row() == 3


def test_a_damaged_clip_says_so_in_the_preview(window, recorded_dialogs, tmp_path, qtbot):
    recorded_dialogs.paths.append(str(tmp_path / "p"))
    assert window.files.save_as()
    add_take(window.project, 0, frames=9)
    (window.project.folder / window.project.story.shots[0].accepted().clip).write_bytes(b"not a video" * 50)
    window.model.refresh_all()
    window.edits.select_shots([window.project.story.shots[0].id])
    player = window.preview.player
    qtbot.waitUntil(lambda: not player.loading, timeout=10_000)
    assert player.screen_label.text() == (
        "Cannot play clip.mp4: Invalid data found when processing input.\n"
        "The file may be damaged or cut off: regenerate the shot or delete this take.")
    assert player.screen_label.wordWrap() and player.counter.text() == "0 / 0"
    assert window.preview.takes.count() == 1  # the take stays listed, to delete or regenerate
    assert window.preview.takes.item(0).text().endswith("  ·  DAMAGED clip")  # it said "done"
    window.model.index(0).data(ShotRole.THUMBNAIL)  # what painting the card asks: its badge says DAMAGED
    qtbot.waitUntil(lambda: statuses(window)[0] == "damaged", timeout=10_000)
    # Cut off in the middle: the first frame decodes, the card is DAMAGED all the same (the film would fail).
    clip = window.project.folder / window.project.story.shots[0].accepted().clip
    write_clip(clip, 40, 64, 48)
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size * 9 // 10])
    window.model.refresh_all()
    window.model.index(0).data(ShotRole.THUMBNAIL)
    qtbot.waitUntil(lambda: "cut off: it holds" in window.model.index(0).data(Qt.ItemDataRole.ToolTipRole),
                    timeout=10_000)
    assert statuses(window)[0] == "damaged"
    # An empty clip is no DONE shot: the card says MISSING, as for a deleted one, and the preview says it is empty.
    (window.project.folder / window.project.story.shots[0].accepted().clip).write_bytes(b"")
    window.model.refresh_all()
    assert statuses(window)[0] == "missing"
    assert "or is empty" in window.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    window.preview.set_shot(window.project, window.project.story.shots[0])
    assert player.screen_label.text() == ("Clip empty:\nclip.mp4 holds nothing (0 bytes): regenerate the shot or "
                                          "delete this take.")
