"""A screen reader and the keyboard: every field a Tab reaches says what it is, the settings dialogs open with
the keyboard on a field one can see, and a card is read out as the painted card shows it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QScrollArea, QWidget
from ui_helpers import a_take_shown


def _named(widget: QWidget) -> bool:
    iface = QAccessible.queryAccessibleInterface(widget)
    if widget.accessibleName().strip() or iface.relations(QAccessible.RelationFlag.Label):
        return True
    # On Linux a combo box's accessible name is its current value: only a label or a name says what it is.
    return not isinstance(widget, QComboBox) and bool(iface.text(QAccessible.Text.Name).strip())


def unnamed(root: QWidget) -> list[str]:
    """The Tab stops shown in ``root`` that a screen reader could only call by their type."""
    found = []
    for widget in root.findChildren(QWidget):
        if isinstance(widget.parent(), QAbstractSpinBox | QComboBox) or widget.focusProxy() is not None:
            continue  # the spin box or combo box speaks for its line edit; a proxy's target is checked itself
        if (widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(root) and widget.isEnabled()
                and not _named(widget)):
            found.append(f"{type(widget).__name__} {widget.objectName()!r}")
    return found


def test_every_tab_stop_of_the_window_has_a_name(window, qtbot, tmp_path, recorded_dialogs):
    a_take_shown(window, qtbot, tmp_path, recorded_dialogs)  # the player's slider and the takes list show
    window.show()
    tabs = window.findChild(QWidget, "memory_cast_tabs")
    for i in range(tabs.count()):  # Memory, then Cast
        tabs.setCurrentIndex(i)
        assert unnamed(window) == [], tabs.tabText(i)
    assert window.preview.takes.accessibleName() == "Takes"  # it was read as its box's title, "Preview"


def test_the_settings_dialogs_open_on_a_field_and_every_tab_stop_has_a_name(window, qtbot):
    from storyboard.app_settings import AppSettings
    from storyboard.render_settings_dialog import RenderSettingsDialog
    from storyboard.settings_dialog import SettingsDialog

    settings = SettingsDialog(AppSettings())
    render = RenderSettingsDialog(window.render_settings(), "p", "tiny", window)
    for dialog in (settings, render):
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.activateWindow()
        qtbot.waitUntil(lambda d=dialog: QApplication.focusWidget() is not None and d.isActiveWindow())
        stops = [QApplication.focusWidget()]
        for _ in range(40):  # round the whole chain: the scroll area holding the fields was a stop, drawn nowhere
            dialog.focusNextChild()
            stops.append(QApplication.focusWidget())
        assert not [w for w in stops if isinstance(w, QScrollArea)], type(dialog).__name__
        assert stops[0].isVisible()
    assert unnamed(render) == []
    for i in range(settings.tabs.count()):
        settings.tabs.setCurrentIndex(i)
        assert unnamed(settings) == [], settings.tabs.tabText(i)


def test_a_card_is_read_out_with_its_number_scene_cut_and_state(window):
    shots = window.project.story.shots
    said = [window.model.index(row).data(Qt.ItemDataRole.AccessibleTextRole) for row in range(len(shots))]
    assert said[0] == f"Shot 1, scene {shots[0].scene_num}, scene cut, no take yet: {shots[0].prompt}"
    going_on = next(row for row, shot in enumerate(shots) if not shot.cut)
    assert said[going_on] == (f"Shot {going_on + 1}, scene {shots[going_on].scene_num}, no take yet: "
                              f"{shots[going_on].prompt}")


def test_a_focused_text_box_or_list_is_ringed(window):
    """Tabbing into the prompt or an empty takes list showed nothing: Fusion rings only line edits and spin boxes."""
    from PySide6.QtGui import QColor
    from ui_helpers import show_active

    from storyboard.theme import FOCUS_RING

    show_active(window)
    for widget in (window.inspector.prompt, window.inspector.notes, window.preview.takes,
                   window.memory_strip.list):
        window.timeline.setFocus()
        resting = widget.grab().toImage().pixelColor(widget.width() // 2, 0)
        widget.setFocus(Qt.FocusReason.TabFocusReason)
        focused = widget.grab().toImage().pixelColor(widget.width() // 2, 0)
        assert resting != focused and focused == QColor(FOCUS_RING), widget.objectName()
