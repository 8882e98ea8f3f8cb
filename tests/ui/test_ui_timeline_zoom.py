"""View > Zoom timeline (Ctrl+-, Ctrl+=, Ctrl+0): narrower cards show more of a long story; the zoom (and the
player's Loop and Play on) is kept for the next start, and a card dragged is drawn at the width shown."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from ui_helpers import show_active

from storyboard import window_geometry
from storyboard.card_delegate import CARD_SIZE, CARD_WIDTHS


def _cards_in_view(window) -> int:
    timeline = window.timeline
    return sum(1 for row in range(window.model.rowCount())
               if timeline.viewport().rect().contains(timeline.visualRect(window.model.index(row))))


def test_zoom_keys_change_the_card_width_and_the_next_start_keeps_it(window, qtbot):
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow
    from storymem_engine.story import Shot

    window.project.story.shots.extend(Shot(prompt=f"extra shot {n}") for n in range(20))
    window.set_project(window.project, None)
    window.resize(1440, 900)
    show_active(window)
    window.timeline.setFocus()
    before = _cards_in_view(window)
    for _ in range(len(CARD_WIDTHS)):  # one more than there are levels: the narrowest stays
        QTest.keyClick(window.timeline, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.timeline.card_width() == CARD_WIDTHS[0]
    assert _cards_in_view(window) >= 2 * before  # a long story at about half the screens
    assert window.statusBar().currentMessage().startswith("Timeline cards are at their narrowest: 96 px")
    assert window.timeline._drag_pixmap(window.model.index(0)).width() == CARD_WIDTHS[0]
    QTest.keyClick(window.timeline, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.timeline.card_width() == CARD_WIDTHS[1]

    window.preview.player.loop.setChecked(True)  # the player's Loop box is remembered the same way
    window_geometry.restore(window)  # remembered like the window's size: saved on close, read at start
    window.preview.player.loop.setChecked(True)
    window_geometry.save(window)
    assert QSettings().value(window_geometry.CARD_WIDTH_KEY) == str(CARD_WIDTHS[1])
    again = MainWindow(AppSettings())
    qtbot.addWidget(again)
    window_geometry.restore(again)
    assert again.timeline.card_width() == CARD_WIDTHS[1]
    assert again.preview.player.loop.isChecked() and not again.preview.player.play_on.isChecked()
    QTest.keyClick(window.timeline, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.timeline.card_width() == CARD_SIZE.width()
