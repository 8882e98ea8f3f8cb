"""What files dropped from the file manager mean: a project or story to open (the window), or images (the cast)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData

from storymem_engine.project import PROJECT_FILE


def local_files(mime: QMimeData) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def openable_drop(paths: list[Path]) -> Path | None:
    """What File > Open would take: one project folder, its project.json, or a story script; None for anything
    else (images belong to the cast panel)."""
    if len(paths) != 1:
        return None
    path = paths[0]
    if path.is_dir():
        return path if (path / PROJECT_FILE).is_file() else None
    return path if path.suffix.lower() == ".json" and path.is_file() else None


def may_be_images(paths: list[Path]) -> bool:
    """Files the cast panel takes (each is checked as an image on adding): not folders or story scripts only, which
    go on to the window."""
    return bool(paths) and not all(p.is_dir() or p.suffix.lower() == ".json" for p in paths)
