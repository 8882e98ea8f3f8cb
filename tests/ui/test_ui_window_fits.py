"""The main window fits a laptop screen, and reopens at the size, place and panel division it was closed with."""

from __future__ import annotations

from storyboard import window_geometry
from storyboard.main_window import MainWindow


def test_the_window_fits_a_1366x768_laptop_with_the_timeline_in_view(window, qtbot):
    # Work area of a 1366x768 screen less a taskbar and the title bar: ~1366x700. The window asked for 1387x930.
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 700
    window.show()
    qtbot.waitExposed(window)
    window.resize(1366, 700)
    qtbot.waitUntil(lambda: window.height() == 700)
    # The timeline keeps its whole height at the bottom; the panels above it scroll instead.
    timeline = window.timeline
    assert timeline.mapTo(window, timeline.rect().bottomLeft()).y() < window.statusBar().y()
    assert window.top_scroll.verticalScrollBar().maximum() > 0
    # At the first size (1440x900) nothing scrolls, and the memory legend is two lines at most (it wrapped into
    # four), beside the preview.
    window.resize(1440, 900)
    qtbot.waitUntil(lambda: window.top_scroll.verticalScrollBar().maximum() == 0)
    legend = window.memory_strip.legend
    assert legend.heightForWidth(legend.width()) < 3 * legend.fontMetrics().height()
    # Selecting several shots adds the inspector's two-line note; the panels must not start scrolling (and shift).
    window.edits.select_shots([shot.id for shot in window.project.story.shots[2:5]])
    assert window.inspector.selection_note.isVisibleTo(window)
    qtbot.wait(50)
    assert window.top_scroll.verticalScrollBar().maximum() == 0


def test_the_window_reopens_at_its_last_size_and_first_fits_the_screen(qtbot):
    from storyboard.app_settings import AppSettings

    first = MainWindow(AppSettings())
    qtbot.addWidget(first)
    window_geometry.restore(first)  # fresh settings: the first size, cut to the screen's free area
    room = first.screen().availableGeometry()
    assert first.width() <= room.width() and first.height() <= room.height()
    first.show()
    qtbot.waitExposed(first)
    first.resize(700, 500)  # inside the offscreen test screen (restoreGeometry keeps a window on its screen)
    qtbot.waitUntil(lambda: first.size().width() == 700)
    assert first.close()  # an unchanged sample: nothing to ask

    # A window that was not restored (main.py --screenshot, at its fixed size) leaves the saved geometry alone.
    shot = MainWindow(AppSettings())
    qtbot.addWidget(shot)
    shot.resize(600, 450)
    assert shot.close()

    again = MainWindow(AppSettings())
    qtbot.addWidget(again)
    window_geometry.restore(again)
    assert (again.width(), again.height()) == (700, 500)


def test_the_wheel_over_a_field_scrolls_the_panels_and_changes_nothing(window, qtbot):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window.show()
    qtbot.waitExposed(window)
    window.resize(1366, 700)
    bar = window.top_scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    shot = window.project.story.shots[0]
    steps = window.inspector.steps
    before = (shot.steps, steps.value(), window.undo_stack.count())

    def wheel(widget, notches: int = -1) -> None:
        at = QPointF(widget.rect().center())
        QApplication.sendEvent(widget, QWheelEvent(at, QPointF(widget.mapToGlobal(at.toPoint())), QPoint(0, 0),
                                                   QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                                                   Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                                                   False))

    wheel(steps)  # down, passing over Steps: the panels scroll, the shot keeps its steps
    assert bar.value() > 0
    assert (shot.steps, steps.value(), window.undo_stack.count()) == before
    # Once the user clicked into the field, the wheel is the field's (Qt's usual spin box behaviour).
    steps.setFocus()
    qtbot.waitUntil(steps.hasFocus)
    wheel(steps, +1)
    assert steps.value() != before[1] and window.undo_stack.count() == before[2] + 1


def test_the_panels_reopen_divided_as_the_user_left_them(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

    # The main window's two handles (inspector | preview, preview above memory/cast) are the ones remembered.
    assert [s.objectName() for s in window.splitters] == ["inspector_beside_splitter", "preview_below_splitter"]

    def panels() -> QWidget:  # a window divided like the main one, free of its minimum sizes on the test screen
        host = QWidget()
        qtbot.addWidget(host)
        host.splitters = (QSplitter(Qt.Orientation.Horizontal),)
        host.splitters[0].setObjectName("inspector_beside_splitter")
        for _ in range(2):
            host.splitters[0].addWidget(QWidget())
        QHBoxLayout(host).addWidget(host.splitters[0])
        host.resize(600, 400)
        return host

    first = panels()
    window_geometry.restore(first)
    first.resize(600, 400)  # inside the offscreen test screen, which trims a window as wide as itself
    first.show()
    qtbot.waitExposed(first)
    default = first.splitters[0].sizes()
    first.splitters[0].setSizes([150, 430])
    divided = first.splitters[0].sizes()
    assert divided != default
    window_geometry.save(first)  # what closing the main window does

    again = panels()
    window_geometry.restore(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.splitters[0].sizes() == divided


def test_the_players_controls_stay_below_the_clip_when_the_take_details_wrap(window, qtbot, tmp_path,
                                                                            recorded_dialogs):
    """At 1440x900 the preview gets its minimum height; a take with two lines of details had the Play button and
    the slider drawn over the bottom of the clip (the details counted as one line)."""
    from ui_helpers import add_take

    recorded_dialogs.paths.append(str(tmp_path / "p.storymem"))
    assert window.files.save_as()
    add_take(window.project, 1)
    take = window.project.story.shots[1].accepted()
    take.request.update(seed=1, width=128, height=80, num_frames=17, steps=4, guidance=3.5, seed_rule="scene",
                        engine="tiny", offload="model_offload", memory=["a.png", "b.png"], created="2026-11-30")
    window.show()
    qtbot.waitExposed(window)
    window.resize(1440, 900)
    window.edits.select_shots([window.project.story.shots[1].id])
    player = window.preview.player
    details = window.preview.details
    qtbot.waitUntil(lambda: details.height() > 1.5 * details.fontMetrics().height())  # laid out, two lines
    qtbot.wait(100)
    assert player.play_button.geometry().top() > player.screen_label.geometry().bottom()
    assert details.height() >= details.heightForWidth(details.width())
    # ... and the panels still do not scroll at the first size (the trim bar's handles made them scroll by 3 px).
    assert window.top_scroll.verticalScrollBar().maximum() == 0


def test_panels_above_the_timeline_fit_a_1280_px_window_whatever_a_name_or_setting_says(window, qtbot, tmp_path):
    from PySide6.QtGui import QImage

    image = tmp_path / "queen.png"
    QImage(64, 64, QImage.Format.Format_RGB888).save(str(image))
    assert window.casting.add_files([str(image)], name="Queen Alessandra of the Long Name, Regent of the Northern "
                                  "Marches")
    window.cast_panel.list.setCurrentRow(0)
    assert "Queen Alessandra" in window.cast_panel.selection_note.text()
    shot = window.project.story.shots[0]
    window.edits.edit_field(shot.id, "profile", "draft")  # the longest profile name
    # The inspector's widest row and the cast panel's note set how narrow the panels can be: a 1280-px window
    # (less its margins and the splitter handles) must hold both without a sideways scroll bar.
    needed = window.top_scroll.widget().minimumSizeHint().width()
    assert needed <= 1250, needed
    window.show()
    qtbot.waitExposed(window)
    window.resize(1280, 680)
    qtbot.waitUntil(lambda: window.width() == 1280)
    window.lower_tabs.setCurrentWidget(window.cast_panel)
    qtbot.wait(50)
    assert window.top_scroll.horizontalScrollBar().maximum() == 0


def test_the_tall_settings_dialogs_keep_ok_and_cancel_on_a_short_screen(window, qtbot):
    from PySide6.QtWidgets import QDialogButtonBox

    from storyboard.render_settings_dialog import RenderSettingsDialog
    from storyboard.settings_dialog import SettingsDialog

    room = window.screen().availableGeometry()
    for dialog in (SettingsDialog(window.settings, window),
                   RenderSettingsDialog(window.render_settings(), "P", "tiny", window)):
        qtbot.addWidget(dialog)
        # Their settings scroll below ~640 px (a 1280x720 laptop less its panels, a 175 % display): a dialog may be
        # made that short, and it opens no taller than the screen, its buttons inside it.
        assert dialog.minimumSizeHint().height() <= 300
        dialog.show()
        qtbot.waitExposed(dialog)
        assert dialog.height() <= room.height()
        buttons = dialog.findChild(QDialogButtonBox)
        assert buttons.mapTo(dialog, buttons.rect().bottomLeft()).y() <= dialog.height()
        dialog.close()


def test_a_long_status_message_is_read_whole_and_the_summary_comes_back_after_it(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    window.resize(1280, 700)
    summary = window.shot_count_label
    qtbot.waitUntil(lambda: window.width() == 1280 and summary.text().endswith("not saved yet"))
    full = summary.text()
    assert summary.shown_text() == full  # nothing said: the whole summary
    bar = window.statusBar()
    message = ("1 image added to “Captain Eleanor Marguerite Ashworth-Villanueva of the Northern Lighthouse” "
               "(attached to every shot: Shots 1–8 are stale)")
    bar.showMessage(message, 5000)
    # The message's words end left of where the summary (now ending in "…") begins.
    qtbot.waitUntil(lambda: summary.x() > bar.fontMetrics().horizontalAdvance(message))
    assert summary.shown_text().endswith("…") and summary.text() == full
    bar.clearMessage()
    qtbot.waitUntil(lambda: summary.shown_text() == full)


def test_on_a_short_screen_only_the_tall_settings_tab_scrolls(window, qtbot):
    """The whole tab widget sat in one scroll area: the short GPUs and Advanced tabs showed a scroll bar with
    nothing to scroll to. Each tab scrolls on its own now, its OK and Cancel on screen."""
    from PySide6.QtWidgets import QScrollArea

    from storyboard.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.resize(dialog.width(), 480)
    qtbot.waitUntil(lambda: dialog.height() == 480)
    scrolling = {}
    for i in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(i)
        page = dialog.tabs.currentWidget()
        assert isinstance(page, QScrollArea)
        page.widget().layout().activate()
        scrolling[dialog.tabs.tabText(i)] = page.verticalScrollBar().maximum() > 0
    assert scrolling == {"Engine": True, "GPUs": False, "New projects": True, "Advanced": False}


def test_a_take_and_the_memory_it_leaves_are_in_view_together_on_a_laptop_screen(window, qtbot, tmp_path,
                                                                                   recorded_dialogs):
    """Stacked under the preview at 1440x900 the clip played 128 px tall and the keyframes were scrolled out of view
    (at 1280x720 only their note showed): on a short window the Memory and Cast tabs stand beside the preview."""
    from PySide6.QtCore import QRect, Qt
    from ui_helpers import add_take

    recorded_dialogs.paths.append(str(tmp_path / "p.storymem"))
    assert window.files.save_as()
    for row in range(3):
        add_take(window.project, row, keyframes=3)
    window.set_project(window.project, window.project_path)
    window.show()
    qtbot.waitExposed(window)
    strip, right = window.memory_strip, window.splitters[1]

    def in_view(widget) -> bool:
        port = window.top_scroll.viewport()
        return QRect(widget.mapTo(port, widget.rect().topLeft()), widget.size()).intersects(port.rect())

    for size in ((1440, 900), (1280, 720)):
        window.resize(*size)
        qtbot.waitUntil(lambda: right.orientation() == Qt.Orientation.Horizontal)
        window.edits.select_shots([window.project.story.shots[3].id])  # conditioned on the three takes' keyframes
        qtbot.waitUntil(lambda: strip.list.count() >= 6)
        qtbot.wait(50)
        assert in_view(window.preview.player.screen_label) and in_view(strip.list)
        assert window.preview.player.screen_label.height() >= 200
        assert strip.list.isWrapping() and window.cast_panel.buttons.narrow  # the hidden tab too
        assert window.top_scroll.horizontalScrollBar().maximum() == 0
    window.resize(1440, 900)
    qtbot.waitUntil(lambda: window.top_scroll.verticalScrollBar().maximum() == 0)  # nothing scrolls at first size
    # In rows filling the column's height: two rows of keyframes in view without scrolling the strip (one row
    # showed two and a half).
    shown = [strip.list.visualItemRect(strip.list.item(n)) for n in range(strip.list.count())]
    assert sum(strip.list.viewport().rect().contains(rect) for rect in shown) >= 4

    window.resize(1600, 1200)  # a tall screen: room for both under each other, the strip as wide as the column
    qtbot.waitUntil(lambda: right.orientation() == Qt.Orientation.Vertical)
    assert not strip.list.isWrapping() and not strip.buttons.narrow
    assert window.lower_tabs.y() > window.preview.y() and window.lower_tabs.width() > 800


def test_a_window_reopened_with_the_tabs_beside_the_preview_lays_them_out_for_the_narrow_column(window, qtbot):
    """The splitter's saved state brings its orientation back: the panels in it still get their narrow layout."""
    from PySide6.QtCore import Qt

    from storyboard.app_settings import AppSettings

    window.setProperty(window_geometry.MANAGED, True)
    window.show()
    qtbot.waitExposed(window)
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: window.splitters[1].orientation() == Qt.Orientation.Horizontal)
    window_geometry.save(window)

    again = MainWindow(AppSettings())
    qtbot.addWidget(again)
    window_geometry.restore(again)
    assert again.splitters[1].orientation() == Qt.Orientation.Horizontal  # restored before any resize
    again.show()
    qtbot.waitExposed(again)
    qtbot.waitUntil(lambda: again.memory_strip.list.isWrapping())
    assert again.cast_panel.buttons.narrow and again.memory_strip.buttons.narrow
