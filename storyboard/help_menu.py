"""Help: every keyboard shortcut in one list (read from the live actions, so it never drifts from the menus) and
About (version, where settings and unsaved projects live, which engine is chosen)."""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QTableWidget, QTableWidgetItem, QVBoxLayout

from storyboard import dialogs

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

# Keys that belong to one panel (QShortcut on a widget, not a menu action): listed by hand beside the menus'.
PANEL_KEYS = (
    ("Timeline", "Reorder shots", "drag a card"),
    ("Timeline", "Edit the selected shot's prompt", "Enter / double-click"),
    ("Timeline", "Select a run of shots from the current one", "Shift+click, Shift+←/→/Home/End"),
    ("Timeline", "Add or remove one shot from the selection", "Ctrl+click"),
    ("Timeline", "A screenful of cards back or on (Shift: select them)", "Page Up / Page Down"),
    ("Prompt, notes", "On to the next field, back to the one before", "Tab, Shift+Tab"),
    ("Any panel", "Back to the timeline", "Esc"),
    ("Memory strip", "Pin / unpin the selected keyframe", "P"),
    ("Memory strip", "Exclude / include the selected keyframe", "X"),
    ("Preview", "Full screen and back", "double-click the picture, Esc"),
    ("Preview", "Keep the frame shown (cast member, PNG)", "right-click the picture"),
    ("Preview", "Step frames, jump to the start and end", "←/→, Home/End on the slider"),
    ("Takes list", "Accept the selected take", "Enter"),
    ("Takes list", "Delete the selected take", "Del"),
)


def build_help_menu(window: MainWindow) -> None:
    menu = window.menuBar().addMenu("&Help")
    shortcuts = QAction("&Keyboard shortcuts", window)
    shortcuts.setShortcut(QKeySequence("F1"))
    shortcuts.triggered.connect(lambda _checked=False: show_shortcuts(window))
    about = QAction("&About StoryMem Studio", window)
    about.triggered.connect(lambda _checked=False: show_about(window))
    for name, action in (("shortcuts", shortcuts), ("about", about)):
        window.addAction(action)
        menu.addAction(action)
        window.actions_by_name[name] = action


def shortcut_rows(window: MainWindow) -> list[tuple[str, str, str]]:
    """(where, what, keys) for every menu action with a shortcut, in menu order, then the panels' own keys."""
    rows = []
    # Undo and Redo carry the next step in their text ("Redo Mark scene cut (shot 4)"): named plainly here.
    fixed = {window.actions_by_name[name]: name.title() for name in ("undo", "redo") if name in window.actions_by_name}

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{where} > {action.menu().title().replace('&', '')}")
            elif action.text() and action.shortcuts():
                keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
                # Timeline keys (menus.py, timeline_only): in a prompt Ctrl+K, Ctrl+D or Del edit the text instead.
                typing = action.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut
                rows.append((where + " · not while typing" * typing,
                             fixed.get(action) or action.text().replace("&", "").rstrip("…"), keys))

    for action in window.menuBar().actions():
        if action.menu() is not None:
            walk(action.menu(), action.menu().title().replace("&", ""))
    return rows + list(PANEL_KEYS)


def show_shortcuts(window: MainWindow) -> QDialog:
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    rows = shortcut_rows(window)
    table = QTableWidget(len(rows), 3)
    table.setObjectName("shortcuts_table")
    table.setHorizontalHeaderLabels(["Where", "Action", "Keys"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, QTableWidgetItem(value))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(table)
    layout.addWidget(buttons)
    dialog.resize(min(900, table.horizontalHeader().length() + 60), 560)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()  # modeless: it can stay open beside the editor while learning the keys
    dialog.raise_()
    dialog.activateWindow()  # Esc closes it at once, as the other tool windows
    return dialog


def about_text(window: MainWindow) -> str:
    from importlib.metadata import PackageNotFoundError, version

    from PySide6 import __version__ as pyside_version

    try:
        ours = version("storymem-studio")
    except PackageNotFoundError:
        ours = "unknown (not installed: run pip install -e . in the source folder)"
    settings = window.settings
    engine = ("tiny engine (random-weight try-out models)" if settings.engine == "tiny"
              else f"Wan2.2 A14B + StoryMem, models folder: {settings.models_folder or 'not set'}")
    from storyboard.generation_controller import log_folder
    from storyboard.unsaved_projects import unsaved_root

    return (f"StoryMem Studio {ours}\n\n"
            "A storyboard editor for minute-long, multi-shot videos with consistent characters: each shot is "
            "generated by Wan2.2 A14B with the StoryMem memory LoRA, conditioned on keyframes of the shots before "
            "it.\n\n"
            f"Engine: {engine}\n"
            f"Settings: {QSettings().fileName()}\n"
            f"Unsaved projects: {unsaved_root()}\n"
            f"Generation log: {log_folder()}\n"
            f"Python {platform.python_version()}, PySide6 {pyside_version}, {platform.system()} "
            f"{platform.machine()}")


def show_about(window: MainWindow) -> None:
    dialogs.info(window, "About StoryMem Studio", about_text(window))
