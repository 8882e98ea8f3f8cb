"""Values read back from the app's settings file, each of the type the reader needs or its default.

The file is text a user, a sync tool or another version of the app may have changed: an ini value with a comma
reads back as a list, ``@Rect(...)`` as a QRect, an empty one as "". A window that cannot open because of one of
those is worse than a forgotten preference.
"""

from __future__ import annotations

import errno
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings


def as_text(raw: object) -> str | None:
    """A settings value as the text it was written as, None when it is no text: an unquoted comma in a hand-edited
    file reads back as a list of its parts ("a, b"); a ``@Rect(...)`` or a byte array is no folder or choice."""
    if isinstance(raw, list) and raw and all(isinstance(v, str) for v in raw):
        return ", ".join(raw)
    return raw if isinstance(raw, str) else None


def text_value(store: QSettings, key: str, default: str = "") -> str:
    return as_text(store.value(key)) or default


def texts_value(store: QSettings, key: str) -> list[str]:
    value = store.value(key)
    if isinstance(value, str):  # an ini file stores a one-item list as its item
        value = [value]
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def bytes_value(store: QSettings, key: str) -> QByteArray | None:
    value = store.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def can_look_up(text: str) -> bool:
    """Whether a remembered path can name anything at all. pathlib raises, instead of answering "not there", for a
    name too long for the file system, and a NUL can be in no name. A folder that only cannot be read now (a
    share that is down) can still be the right one: it stays."""
    if "\0" in text:
        return False
    try:
        Path(text).exists()
    except OSError as exc:
        return exc.errno != errno.ENAMETOOLONG
    except ValueError:
        return False
    return True


def names_existing(text: str, folder: bool = False) -> bool:
    """Whether a remembered path names something that is there now (a folder, with ``folder``)."""
    if not text or "\0" in text:
        return False
    try:
        return Path(text).is_dir() if folder else Path(text).exists()
    except (OSError, ValueError):  # too long, or behind a folder this user may not read: not there for us
        return False
