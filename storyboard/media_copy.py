"""Save As elsewhere copies the project's takes, cast images and music: with a progress dialog and Cancel when it
is more than a moment's work (a long story's takes are gigabytes; the window froze until they were all copied)."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from storymem_engine.project import MEDIA_DIRS

# Below this the copy takes well under a second on any disk: no dialog flashing up.
QUIET_BYTES = 64 * 2**20


class CopyCancelled(Exception):
    """The user pressed Cancel in the copy's progress dialog."""


def copy_media(source: Path, target: Path, parent: QWidget | None) -> None:
    """Copy every media folder of the project in ``source`` into ``target`` (kept where they are)."""
    files = [path for name in MEDIA_DIRS if (source / name).is_dir()
             for path in sorted((source / name).rglob("*")) if path.is_file()]
    sizes = [path.stat().st_size for path in files]
    total = sum(sizes)
    dialog = None
    if total >= QUIET_BYTES:
        megabytes = max(total // 2**20, 1)
        dialog = QProgressDialog(f"Copying the takes and images to {target.name} ({megabytes:,} MB)…", "Cancel", 0,
                                 megabytes, parent)
        dialog.setWindowTitle("Save As")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
    done = 0
    try:
        for path, size in zip(files, sizes, strict=True):
            if dialog is not None and dialog.wasCanceled():
                raise CopyCancelled
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            done += size
            if dialog is not None:
                dialog.setValue(done // 2**20)
                QApplication.processEvents()
        if dialog is not None and dialog.wasCanceled():
            raise CopyCancelled
    finally:
        if dialog is not None:
            dialog.close()
