"""The frame in the preview, kept: added to the cast (a new member, or a member's images) through the cast's own
checks and undo, or saved as a PNG at the take's size."""

from __future__ import annotations

from PySide6.QtGui import QImage
from ui_helpers import a_take_shown


def _take_shown(window, qtbot, tmp_path, recorded_dialogs):
    player = a_take_shown(window, qtbot, tmp_path, recorded_dialogs)
    player.slider.setValue(5)
    return player


def _red(image: QImage) -> int:
    return image.pixelColor(image.width() // 2, image.height() // 2).red()


def test_a_frame_becomes_a_cast_member_then_joins_its_images_and_undo_takes_it_back(window, qtbot, tmp_path,
                                                                                    recorded_dialogs):
    player = _take_shown(window, qtbot, tmp_path, recorded_dialogs)
    frames = window.frame_actions
    assert frames.add_to_cast()
    cast = window.project.story.cast
    assert [m.name for m in cast] == ["Shot 1 take 1 frame 6"] and window.lower_tabs.currentIndex() == 1
    saved = QImage(str(window.project.resolve(cast[0].images[0].path)))
    assert (saved.width(), saved.height()) == (64, 48)  # the clip's own size, not the preview's
    assert abs(_red(saved) - _red(player.frames[5])) <= 1

    player.slider.setValue(9)
    menu = frames.menu()
    members = next(a.menu() for a in menu.actions() if a.menu() is not None)
    assert [a.text() for a in members.actions()] == ["Shot 1 take 1 frame 6"]
    members.actions()[0].trigger()
    assert len(window.project.story.cast[0].images) == 2
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert window.project.story.cast == []


def test_a_frame_saves_as_png_and_without_a_take_nothing_is_offered(window, qtbot, tmp_path, recorded_dialogs):
    player = _take_shown(window, qtbot, tmp_path, recorded_dialogs)
    out = tmp_path / "still.png"
    recorded_dialogs.paths.append(str(out))
    assert window.frame_actions.save_png()
    still = QImage(str(out))
    assert (still.width(), still.height()) == (64, 48) and abs(_red(still) - _red(player.frames[5])) <= 1
    assert "Saved Shot 1 take 1 frame 6 (64×48)" in window.statusBar().currentMessage()

    window.edits.select_shots([window.project.story.shots[1].id])  # no take
    assert not window.frame_actions.add_to_cast()
    assert "Show a take in the preview first" in window.statusBar().currentMessage()
    kept = [a for a in window.frame_actions.menu().actions() if a.text() and a.menu() is None]
    assert [a.text() for a in kept][:3] == ["Set &in point", "Set &out point", "Clea&r in and out points"]
    assert not any(a.isEnabled() for a in kept if a.text().startswith(("Add", "Save")))
