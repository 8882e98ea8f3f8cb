"""The recent-projects list in QSettings (most recent first)."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from storyboard.settings_values import texts_value

KEY = "recent/projects"
LIMIT = 10


def recent_projects(store: QSettings | None = None) -> list[str]:
    return texts_value(store or QSettings(), KEY)


def add_recent(path: str, store: QSettings | None = None) -> list[str]:
    store = store or QSettings()
    items = [path] + [p for p in recent_projects(store) if p != path]
    store.setValue(KEY, items[:LIMIT])
    store.sync()
    return items[:LIMIT]


def clear_recent(store: QSettings | None = None) -> None:
    store = store or QSettings()
    store.setValue(KEY, [])
    store.sync()
