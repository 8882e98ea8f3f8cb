"""The main window opens where and as large as it was closed, its panels as they were divided; the first time, as
large as fits the screen."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QSplitter, QWidget

from storyboard.settings_values import bytes_value, text_value

KEY = "window/geometry"
SPLITTER_KEY = "window/splitters"  # where the user left the handles between the panels
CARD_WIDTH_KEY = "window/card_width"  # View > Zoom timeline
PLAYER_KEYS = ("window/player_loop", "window/player_play_on")  # the player's Loop and Play on boxes
FIRST_SIZE = (1440, 900)
MANAGED = "geometryRemembered"


def restore(window: QWidget) -> None:
    """Before the first show: the saved geometry, else FIRST_SIZE cut to the screen's free area (a 1366x768
    laptop got a 1440x900 window with the timeline below the screen's edge); then the panels' division."""
    window.setProperty(MANAGED, True)
    store = QSettings()
    saved = bytes_value(store, KEY)
    if saved is None or not window.restoreGeometry(saved):
        _fit_to_screen(window)
    for splitter in _splitters(window):  # after the size: a resize spreads a splitter's change by its stretch
        state = bytes_value(store, f"{SPLITTER_KEY}/{splitter.objectName()}")
        if state is not None:
            splitter.restoreState(state)
    width = text_value(store, CARD_WIDTH_KEY)
    timeline = getattr(window, "timeline", None)
    if width.isdecimal() and timeline is not None:  # anything else (a hand-edited file): the default zoom
        timeline.set_card_width(int(width))
    for key, box in zip(PLAYER_KEYS, _player_boxes(window), strict=False):
        box.setChecked(text_value(store, key) == "true")  # anything else: off, as at first start


def _fit_to_screen(window: QWidget) -> None:
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
        store = QSettings()
        store.setValue(KEY, window.saveGeometry())
        for splitter in _splitters(window):
            store.setValue(f"{SPLITTER_KEY}/{splitter.objectName()}", splitter.saveState())
        if getattr(window, "timeline", None) is not None:
            store.setValue(CARD_WIDTH_KEY, str(window.timeline.card_width()))
        for key, box in zip(PLAYER_KEYS, _player_boxes(window), strict=False):
            store.setValue(key, "true" if box.isChecked() else "false")


def _splitters(window: QWidget) -> tuple[QSplitter, ...]:
    return tuple(getattr(window, "splitters", ()))


def _player_boxes(window: QWidget) -> tuple:
    player = getattr(getattr(window, "preview", None), "player", None)
    return (player.loop, player.play_on) if player is not None else ()
