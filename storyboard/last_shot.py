"""The shot a project was left on: reopened, the window shows it again instead of shot 1 (a long story's review
picked up where it stopped). Kept in the app's settings, not in project.json: it is this user's place, not the
story's."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSettings

from storyboard.settings_values import text_value

KEY = "window/last_shots"
KEPT = 40  # projects remembered; the oldest goes first


def parse_places(text: str) -> dict[str, str]:
    """{project folder: shot id} from the settings' text; a hand-edited or damaged value remembers nothing."""
    try:
        places = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return {k: v for k, v in places.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(places, dict) else {}


def _places(store: QSettings) -> dict[str, str]:
    return parse_places(text_value(store, KEY, "{}"))


def remember(folder: Path, shot_id: str) -> None:
    store = QSettings()
    places = _places(store)
    key = os.path.abspath(folder)
    places.pop(key, None)
    places[key] = shot_id  # the newest last
    store.setValue(KEY, json.dumps(dict(list(places.items())[-KEPT:])))


def recall(folder: Path) -> str:
    """The id of the shot ``folder``'s project was left on, "" when none is remembered."""
    return _places(QSettings()).get(os.path.abspath(folder), "")
