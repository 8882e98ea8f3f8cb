"""A project on disk: ``<name>.storymem/project.json`` plus ``takes/`` (clips, keyframe PNGs).

All paths stored in project.json are relative to the folder and may not leave it, so a project
folder can be moved or shared as a whole.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storymem_engine.atomic import atomic_write_text
from storymem_engine.cast import REFERENCES_DIR
from storymem_engine.render_settings import RenderSettings
from storymem_engine.story import SAFE_ID, Story, StoryError, Take, read_json_file

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
AUTOSAVE_FILE = "project.autosave.json"
# project.json as it was before the last save: a project.json damaged since (a disk, a sync tool, a hand edit) opens
# from it, the damaged file kept beside as DAMAGED_FILE.
BACKUP_FILE = "project.backup.json"
DAMAGED_FILE = "project.damaged.json"
TAKES_DIR = "takes"
MUSIC_DIR = "music"  # File > Soundtrack's copy of the music
# Every folder of files a project names (takes, cast references, music): a Save As elsewhere copies them all.
MEDIA_DIRS = (TAKES_DIR, REFERENCES_DIR, MUSIC_DIR)
# One writer per project: a CLI render and the editor's generation queue hold this lock while they write.
LOCK_FILE = ".storymem.lock"


class ProjectError(StoryError):
    """A project folder or project.json that cannot be used."""


class ProjectBusy(ProjectError):
    """Another render or generation queue is writing into the project folder."""


@contextmanager
def writing(folder: str | os.PathLike[str]):
    """Hold the project's writer lock (filelock) while the block runs; ProjectBusy at once if another has it."""
    lock = acquire_writer_lock(folder)
    try:
        yield
    finally:
        lock.release()


def acquire_writer_lock(folder: str | os.PathLike[str]):
    """The project's writer lock, acquired (the caller releases it); ProjectBusy when someone else holds it."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ProjectBusy(f"{folder} is being written by another render or by the editor's Generate; "
                          "wait for it to finish (or cancel it) and try again") from None
    return lock


def file_stamp(path: Path) -> float | None:
    """The modification time of a regular file with something in it; None when it is not a file, or a 0-byte one
    (a copy cut off at its start): no clip or image is in it. One stat, as is_file() is: the timeline asks this for
    every painted card, and image caches key on it (a file written over since is decoded again)."""
    try:
        found = path.stat()
    except (OSError, ValueError):
        return None
    return found.st_mtime if stat.S_ISREG(found.st_mode) and found.st_size > 0 else None


def missing_or_empty(path: Path) -> bool:
    return file_stamp(path) is None


@dataclass
class Project:
    folder: Path
    story: Story
    # How the project renders (size, frames, steps, memory, offload...); None until someone renders or saves
    # it with settings: then the app's preferences (or the CLI's defaults) are what it gets.
    settings: RenderSettings | None = None
    # (folder, relative) -> resolved path. Resolving follows symlinks (an lstat per path part, ~0.4 ms)
    # and the editor resolves every painted card's clip and every keyframe in the memory strip on each
    # repaint. Paths inside a project folder do not move while it is open.
    _resolved: dict[tuple[Path, str], Path] = field(default_factory=dict, repr=False, compare=False)

    @property
    def takes_dir(self) -> Path:
        return self.folder / TAKES_DIR

    def resolve(self, relative: str) -> Path:
        """Absolute path of a project-relative path; refuses paths that leave the folder."""
        key = (self.folder, relative)
        path = self._resolved.get(key)
        if path is None:
            path = self._resolved[key] = resolve_inside(self.folder, relative)
        return path

    def file_missing(self, relative: str) -> bool:
        """True when a project file named in a take is not on disk, or is empty: a 0-byte clip or image (a copy cut
        off at its start) holds nothing, and a take made of it is no DONE shot. A path that leaves the folder counts
        as missing; a never-saved project (no folder yet) has no files to miss."""
        if not relative or str(self.folder) in ("", "."):
            return False
        try:
            return missing_or_empty(self.resolve(relative))
        except (OSError, ValueError):
            return True

    def relative(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            raise ProjectError(f"{path} is outside the project folder {self.folder}") from None

    def to_dict(self) -> dict[str, Any]:
        settings = self.settings.to_dict() if self.settings is not None else {}
        return {"schema": SCHEMA_VERSION, "story": self.story.to_dict(), "settings": settings}

    def save(self, file_name: str = PROJECT_FILE) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / file_name
        if file_name == PROJECT_FILE:
            if target.is_file() and not target.stat().st_mode & 0o222:
                # The atomic rename would replace it whatever its mode (even for its owner): a file made read-only
                # is one the user protected.
                raise ProjectError(f"{target} is read-only: make it writable again, or save the project "
                                   "elsewhere (File > Save As)")
            keep_previous_save(self.folder)
        atomic_write_text(target, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        remove_stale_temp_files(self.folder)
        return target

    def missing_files(self) -> list[str]:
        """Take, cast and soundtrack files named in the project that are not on disk or are empty (for a clear
        message on open: their cards say MISSING)."""
        missing = [image.path for member in self.story.cast for image in member.images if self.file_missing(image.path)]
        if self.story.soundtrack is not None and self.file_missing(self.story.soundtrack.file):
            missing.append(self.story.soundtrack.file)
        for shot in self.story.shots:
            for take in shot.takes:
                missing += [rel for rel in take.files() if self.file_missing(rel)]
        return missing


MAX_NAME_BYTES = 255  # one file or folder name, on every common Linux file system


def resolve_inside(folder: Path, relative: str) -> Path:
    shown = repr(relative)[:120]
    if "\0" in relative:  # every file call would raise ValueError ("embedded null byte")
        raise ProjectError(f"path {shown} in the project holds a NUL character")
    rel = Path(relative)
    if rel.is_absolute():
        raise ProjectError(f"path {shown} in the project must be relative to the project folder")
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in rel.parts):
        # resolve() lets it through; the first stat of it then raised "File name too long" mid-export.
        raise ProjectError(f"path {shown} in the project has a name longer than a file system allows")
    try:
        full = (folder / rel).resolve()
        root = folder.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop (RuntimeError on Python 3.11)
        raise ProjectError(f"path {shown} in the project cannot be resolved ({exc})") from None
    if full != root and root not in full.parents:
        link = next((p for p in [folder / rel, *(folder / rel).parents] if p != folder and p.is_symlink()), None)
        if link is not None:  # a link dangling or pointing outside: the message names it, not just "leaves"
            raise ProjectError(f"path {shown} in the project goes through the link {link}, which points outside "
                               "the project folder: replace the link with the file itself")
        raise ProjectError(f"path {shown} leaves the project folder")
    return full


def _check_paths(project: Project) -> None:
    """Every path the project names stays inside its folder. Through project.resolve: the paths resolved here are
    the ones the missing-files check on open resolves again (each a realpath; 0.3 s of an open at 1,000 shots)."""
    if project.story.soundtrack is not None:
        project.resolve(project.story.soundtrack.file)
    for member in project.story.cast:
        for image in member.images:
            project.resolve(image.path)
    for number, shot in enumerate(project.story.shots, start=1):
        for take in shot.takes:
            for rel in take.files():
                try:
                    project.resolve(rel)
                except ProjectError as exc:  # which shot and take: the user has a place to look
                    raise ProjectError(f"shot {number}, take {take.number}: {exc}") from None


def project_from_dict(folder: Path, data: Any, source: str) -> Project:
    if not isinstance(data, dict):
        raise ProjectError(f"{source}: expected a JSON object")
    schema = data.get("schema")
    if schema is None:
        raise ProjectError(f"{source}: missing field 'schema' (is this a StoryMem project file?)")
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise ProjectError(f"{source}: field 'schema' must be a version number, got {schema!r}"[:300])
    if schema > SCHEMA_VERSION:
        raise ProjectError(
            f"{source}: schema version {schema!r} is newer than this app understands ({SCHEMA_VERSION})"
        )
    if "story" not in data:
        raise ProjectError(f"{source}: missing field 'story'")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ProjectError(f"{source}: field 'settings' must be an object, got {type(settings).__name__}")
    try:
        render = RenderSettings.from_dict(settings, "settings") if settings else None
        story = Story.from_dict(data["story"])
    except StoryError as exc:
        raise ProjectError(f"{source}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise ProjectError(f"{source}: malformed story ({type(exc).__name__}: {str(exc)[:200]})") from None
    project = Project(folder=Path(folder), story=story, settings=render)
    try:
        _check_paths(project)
    except OSError as exc:  # a symlink loop, a name too long: the path cannot be resolved
        raise ProjectError(f"{source}: a take's file cannot be resolved ({exc})") from None
    except ProjectError as exc:
        raise ProjectError(f"{source}: {exc}") from None
    return project


def take_folder(project: Project, shot_id: str, take_id: str) -> Path:
    """``takes/<shot>/<take>`` inside the project; ids outside the safe character set are refused."""
    for kind, value in (("shot", shot_id), ("take", take_id)):
        if not SAFE_ID.fullmatch(value):
            raise ProjectError(f"{kind} id {value!r} cannot name a folder (letters, digits, '-' and '_' only)")
    return resolve_inside(project.folder, f"{TAKES_DIR}/{shot_id}/{take_id}")


def load_project(folder: str | os.PathLike[str], file_name: str = PROJECT_FILE) -> Project:
    folder = Path(folder)
    path = folder / file_name
    data = read_json_file(path, "project file", ProjectError)
    project = project_from_dict(folder, data, str(path))
    remove_stale_temp_files(folder)
    return project


def is_project_file(path: Path) -> bool:
    """``path`` is one of a project folder's own files (project.json, its autosave, backup) or lies in its takes,
    references or music: an export or a story script written there would replace the project or one of its takes."""
    path = Path(path)
    try:
        if path.name in (PROJECT_FILE, AUTOSAVE_FILE, BACKUP_FILE, DAMAGED_FILE) and \
                (path.parent / PROJECT_FILE).is_file():
            return True
        # A film written over a take's clip.mp4 (export --force) left the shot DAMAGED.
        return any(part.name in MEDIA_DIRS and (part.parent / PROJECT_FILE).is_file()
                   for part in path.absolute().parents)
    except OSError:
        return False


def keep_previous_save(folder: Path) -> None:
    """project.json as it is becomes BACKUP_FILE, before a save replaces it: a hard link to the old file (the save
    writes a new one and renames it over), no copy of a large project per save. Never fails a save."""
    current = Path(folder) / PROJECT_FILE
    if not current.is_file():
        return
    tmp = Path(folder) / f".{BACKUP_FILE}.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(current, tmp)
        except OSError:  # a file system without hard links (FAT, some shares)
            shutil.copy2(current, tmp)
        os.replace(tmp, Path(folder) / BACKUP_FILE)
    except OSError:
        tmp.unlink(missing_ok=True)


def restore_backup(folder: Path) -> None:
    """A project whose project.json is damaged goes back to BACKUP_FILE (checked to load first): the damaged file is
    moved aside to DAMAGED_FILE (never deleted: it may be the only copy of something), the backup copied in its
    place."""
    folder = Path(folder)
    damaged = folder / DAMAGED_FILE
    n = 2
    while damaged.exists():
        damaged = folder / f"project.damaged-{n}.json"
        n += 1
    if (folder / PROJECT_FILE).exists():
        os.replace(folder / PROJECT_FILE, damaged)
    atomic_write_text(folder / PROJECT_FILE, (folder / BACKUP_FILE).read_text(encoding="utf-8"))


def remove_stale_temp_files(folder: Path, older_than_s: float = 60.0) -> list[Path]:
    """Delete temp files our atomic writes leave when killed mid-save (``.project.json.<random>.tmp``).

    Only our own naming pattern, only in the project folder, and only files older than a minute, so a save
    in progress (a CLI render beside the editor) is never touched.
    """
    import time

    removed = []
    now = time.time()
    for name in (PROJECT_FILE, AUTOSAVE_FILE, BACKUP_FILE, "manifest.json"):
        for tmp in Path(folder).glob(f".{name}.*.tmp"):
            try:
                if tmp.is_file() and not tmp.is_symlink() and now - tmp.stat().st_mtime > older_than_s:
                    tmp.unlink()
                    removed.append(tmp)
            except OSError:
                pass
    return removed


def record_take(folder: str | os.PathLike[str], shot_id: str, take: Take) -> bool:
    """Add a finished take to the *saved* project.json and accept it, leaving every other saved field alone.

    The app's UI thread calls this when the worker hands a take over: the file gets the take even while
    the editor holds unsaved edits (those stay the user's to save or discard). False when the saved
    project has no such shot (deleted and saved meanwhile): the take's files stay in takes/.
    """
    project = load_project(folder)
    shot = next((s for s in project.story.shots if s.id == shot_id), None)
    if shot is None:
        return False
    if shot.take(take.id) is None:
        shot.add_take(take)
    shot.accepted_take = take.id
    project.save()
    return True


def newer_autosave(folder: str | os.PathLike[str]) -> Path | None:
    """The autosave file when it is newer than the last save (to offer a restore on open)."""
    folder = Path(folder)
    auto = folder / AUTOSAVE_FILE
    main = folder / PROJECT_FILE
    if not auto.is_file():
        return None
    if not main.is_file() or auto.stat().st_mtime > main.stat().st_mtime:
        return auto
    return None
