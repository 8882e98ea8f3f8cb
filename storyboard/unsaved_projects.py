"""Never-saved projects live in a folder the app manages, so Generate works before the user picks a place.

``<app data>/Unsaved projects/<time>-<name>.storymem`` is an ordinary project folder. Save As moves it where
the user wants; discarding deletes it. While a window has it open it holds ``.open.lock`` (a filelock, freed
by the OS if the app dies), so after a crash the next start finds unlocked folders and offers them back.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from storymem_engine.project import PROJECT_FILE

FOLDER_NAME = "Unsaved projects"
OPEN_LOCK = ".open.lock"


def unsaved_root() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / FOLDER_NAME


def is_unsaved(folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        return Path(folder).resolve().parent == unsaved_root().resolve()
    except OSError:
        return False


def new_unsaved_folder(story_name: str) -> Path:
    """A fresh, not yet existing project folder under the unsaved root."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", story_name).strip("-")[:40] or "untitled"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = unsaved_root()
    folder = root / f"{stamp}-{slug}.storymem"
    n = 2
    while folder.exists():
        folder = root / f"{stamp}-{slug}-{n}.storymem"
        n += 1
    return folder


def hold_open(folder: Path):
    """The folder's open lock, acquired (release it when the project is closed); None if another app has it."""
    from filelock import FileLock, Timeout

    lock = FileLock(Path(folder) / OPEN_LOCK, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


def left_behind() -> list[Path]:
    """Unsaved projects no running app holds open (left by a crash), newest first."""
    root = unsaved_root()
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if not (folder / PROJECT_FILE).is_file():
            continue
        lock = hold_open(folder)
        if lock is not None:
            lock.release()
            found.append(folder)
    return sorted(found, key=lambda f: (f / PROJECT_FILE).stat().st_mtime, reverse=True)


def discard(folder: Path) -> None:
    """Delete an unsaved project folder (only ever one under the unsaved root)."""
    if is_unsaved(folder):
        shutil.rmtree(folder, ignore_errors=True)
