"""Shots on the system clipboard: Edit > Copy / Cut put the selected shots there, Paste inserts them (in this
project or another window's).

A shot travels as what it is written with (prompt, cut, scene, continuation, seed, frames, notes...), never
with its takes: a take's files live in the project it was made in. Plain text (the prompts, one per line)
rides along for a script or a mail.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from storyboard.undo_commands import duplicate_shot
from storymem_engine.story import Shot, StoryError

SHOTS_MIME = "application/x-storymem-shots"
MAX_CLIPBOARD_BYTES = 16 * 1024 * 1024  # far beyond any story's shots; more is not ours to parse


class ClipboardError(ValueError):
    """The clipboard claims to hold shots but they cannot be read (another version, or damaged)."""


def shots_to_mime(shots: Sequence[Shot]) -> QMimeData:
    mime = QMimeData()
    written = [dict(duplicate_shot(shot).to_dict(), id="") for shot in shots]
    mime.setData(SHOTS_MIME, json.dumps({"shots": written}, ensure_ascii=False).encode("utf-8"))
    mime.setText("\n".join(" ".join(shot.prompt.split()) for shot in shots))
    return mime


def keep_text_only() -> None:
    """Leave the prompts' text on the clipboard instead of our shots: called as the app quits. The shots' format
    only means something to a running StoryMem window, and Qt's offscreen clipboard crashes the interpreter's exit
    when it still owns mime data made in Python (measured: exit status 139 after a copy)."""
    clipboard = QGuiApplication.clipboard()
    mime = clipboard.mimeData()
    if holds_shots(mime):
        clipboard.setText(mime.text())


def holds_shots(mime: QMimeData | None) -> bool:
    return mime is not None and mime.hasFormat(SHOTS_MIME)


def shots_from_mime(mime: QMimeData) -> list[Shot]:
    """New shots (fresh ids, no takes) from the clipboard; ClipboardError names what is wrong."""
    raw = bytes(mime.data(SHOTS_MIME).data())
    if len(raw) > MAX_CLIPBOARD_BYTES:
        raise ClipboardError(f"the clipboard holds {len(raw) // 2**20} MB under the shots' format: too much to be "
                             "copied shots")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ClipboardError(f"the copied shots are not readable JSON ({exc})") from None
    items = data.get("shots") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ClipboardError("the clipboard's shots list is missing or empty")
    shots = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ClipboardError(f"copied shot {n} is not an object")
        fresh = Shot(prompt="").id
        try:
            shot = Shot.from_dict(dict(item, id=fresh, takes=[], accepted_take=None, last_take_number=0),
                                  where=f"copied shot {n}")
        except StoryError as exc:  # the id is the one just made up: it names nothing the user could find
            raise ClipboardError(str(exc).replace(f" ({fresh})", "")) from None
        shots.append(shot)
    return shots


def land_in_scene(shots: list[Shot], scene: int, at_end: bool) -> None:
    """Pasted shots take the scene they land in, ``scene``: their own numbers, from wherever they were copied, put
    "scene 3" between two halves of scene 1 (and a story script could not be written). At the end of the timeline
    shots copied across scenes keep their scene changes, numbered on from there."""
    previous = shots[0].scene_num if shots else 0
    for shot in shots:
        if at_end and shot.scene_num != previous:
            scene += 1
        previous = shot.scene_num
        shot.scene_num = scene
