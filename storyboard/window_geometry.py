"""The main window opens where and as large as it was closed; the first time, as large as fits the screen."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

KEY = "window/geometry"
FIRST_SIZE = (1440, 900)
MANAGED = "geometryRemembered"


def restore(window: QWidget) -> None:
    """Before the first show: the saved geometry, else FIRST_SIZE cut to the screen's free area (a 1366x768
    laptop got a 1440x900 window with the timeline below the screen's edge)."""
    window.setProperty(MANAGED, True)
    saved = QSettings().value(KEY)
    if saved is not None and window.restoreGeometry(saved):
        return
    screen = window.screen()
    if screen is None:
        return
    room = screen.availableGeometry()
    # Leave room for the window manager's title bar and frame.
    window.resize(min(FIRST_SIZE[0], room.width()), min(FIRST_SIZE[1], room.height() - 40))
    window.move(room.center() - window.rect().center())


def save(window: QWidget) -> None:
    """On close, for a window that was restored (not a --screenshot window at its fixed size)."""
    if window.property(MANAGED):
        QSettings().setValue(KEY, window.saveGeometry())
