"""Playback > Full-screen preview (F11, a double-click on the picture): the same player alone on the screen, with
the playback and trim keys; Esc brings it back into the preview where it was."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from ui_helpers import a_take_shown, show_active

WAIT_MS = 15_000


def test_full_screen_plays_and_trims_and_esc_puts_the_player_back(window, qtbot, tmp_path, recorded_dialogs):
    player, full = a_take_shown(window, qtbot, tmp_path, recorded_dialogs), window.full_screen
    show_active(window)
    where = window.preview.layout().indexOf(player)

    QTest.mouseDClick(player.screen_label, Qt.MouseButton.LeftButton)
    assert full.isVisible() and player.window() is full and full.geometry() == window.screen().geometry()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is full, timeout=WAIT_MS)
    assert full.caption.text() == "Shot 1 of 6 · take 1"  # the timeline is out of sight
    player.slider.setValue(4)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_I)  # the trim keys work there
    assert window.project.story.shots[0].accepted().trim_in == 4
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert player.play_button.isChecked()
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # and undo
    assert window.project.story.shots[0].accepted().trim_in == 0

    window.edits.select_shots([window.project.story.shots[1].id])  # the cut playing on, say
    assert full.caption.text() == "Shot 2 of 6 · animatic card (no take yet)"
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not full.isVisible() and player.window() is window
    assert window.preview.layout().indexOf(player) == where

    window.actions_by_name["full_screen"].trigger()  # F11 from the menu: there and back
    assert full.isVisible()
    window.actions_by_name["full_screen"].trigger()
    assert not full.isVisible() and player.window() is window

    window.actions_by_name["full_screen"].trigger()  # a message box (a failed shot, say) would open behind it:
    box = QMessageBox(QMessageBox.Icon.Warning, "Generation failed", "shot 3", parent=window)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.show()
    assert not full.isVisible() and player.window() is window  # full screen gives way
    box.close()

    window.actions_by_name["full_screen"].trigger()
    window.undo_stack.setClean()
    assert window.close()  # Quit while in full screen: that window goes with the main one
    assert not full.isVisible()
