"""Help: the keyboard shortcuts list (from the live menus) and About."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QTableWidget

from storyboard.help_menu import PANEL_KEYS


def test_f1_lists_every_shortcut_the_menus_have_and_the_panels_keys(window, qtbot):
    window.edits.toggle_scene_cut()
    window.undo_stack.undo()  # Redo's menu text is now "Redo Mark scene cut…": the list names it plainly
    window.actions_by_name["shortcuts"].trigger()  # F1 (key clicks need a focused window: offscreen has none)
    dialog = next(w for w in QApplication.topLevelWidgets() if w.windowTitle() == "Keyboard shortcuts"
                  and w.isVisible())
    table = dialog.findChild(QTableWidget, "shortcuts_table")
    rows = [tuple(table.item(r, c).text() for c in range(3)) for r in range(table.rowCount())]
    assert ("Generate", "Generate all", "Ctrl+Alt+G") in rows
    assert ("Settings", "Preferences", "Ctrl+,") in rows  # Qt's standard key is empty on Linux
    assert ("File", "Quit", "Ctrl+Q") in rows  # the same (it had no key at all)
    assert ("Playback · not while typing", "Play / pause", "Space") in rows
    assert ("Edit · not while typing", "Paste", "Ctrl+V") in rows  # in a prompt it pastes text
    assert ("Edit · not while typing", "Toggle scene cut", "Ctrl+K") in rows
    menu_keys = [k for row in rows[:-len(PANEL_KEYS)] for k in row[2].split(", ")]
    assert len(menu_keys) == len(set(menu_keys)), "one key, two menu actions"
    assert ("Help", "Keyboard shortcuts", "F1") in rows
    assert ("Edit", "Redo", "Ctrl+Shift+Z, Ctrl+Y") in rows and ("Edit", "Undo", "Ctrl+Z") in rows
    assert rows[-len(PANEL_KEYS):] == list(PANEL_KEYS)
    # Every action with a shortcut is listed once: the list cannot drift from the menus.
    with_keys = [a for a in window.actions_by_name.values() if a.shortcuts()]
    assert len(rows) - len(PANEL_KEYS) == len(with_keys)
    dialog.close()


def test_about_names_the_version_the_engine_and_where_unsaved_work_is(window, monkeypatch):
    from storyboard import dialogs
    from storyboard.unsaved_projects import unsaved_root

    shown = []
    monkeypatch.setattr(dialogs, "info", lambda _p, title, text: shown.append((title, text)))
    window.actions_by_name["about"].trigger()
    ((title, text),) = shown
    assert title == "About StoryMem Studio"
    assert text.startswith("StoryMem Studio 0.1.0")
    assert "Engine: Wan2.2 A14B + StoryMem, models folder: not set" in text
    assert f"Unsaved projects: {unsaved_root()}" in text
    assert "Settings: " in text and text.split("Settings: ")[1].split("\n")[0].endswith(".ini")  # the test's file


def test_each_menu_gives_every_item_its_own_alt_letter(window):
    """Alt+letter opens one item: two items with the same letter in a menu make Alt+letter cycle between them."""
    import re

    def walk(menu, where):
        letters = [re.search(r"&(\w)", a.text()).group(1).lower() for a in menu.actions()
                   if re.search(r"&(\w)", a.text())]
        assert len(letters) == len(set(letters)), (where, sorted(letters))
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{where} > {action.text()}")

    for action in window.menuBar().actions():
        walk(action.menu(), action.text())
