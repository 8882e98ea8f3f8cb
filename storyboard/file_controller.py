"""Projects on disk: new, open, save, save as, recent, autosave and its recovery, story import/export."""

from __future__ import annotations

import errno
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QFileSystemWatcher, QTimer

from storyboard import dialogs
from storyboard.file_names import UNTITLED_STORY, file_name_from
from storyboard.media_copy import CopyCancelled, copy_media
from storyboard.outside_takes import deleted_shot_words, take_keys, takes_for_deleted_shots, takes_recorded_outside
from storyboard.recent import add_recent, recent_projects
from storyboard.shot_fields import first_words
from storyboard.shot_numbers import shots_in_words
from storyboard.unsaved_projects import discard, hold_open, is_unsaved, left_behind, new_unsaved_folder
from storymem_engine.project import (
    AUTOSAVE_FILE,
    BACKUP_FILE,
    DAMAGED_FILE,
    MEDIA_DIRS,
    PROJECT_FILE,
    Project,
    ProjectBusy,
    ProjectError,
    acquire_writer_lock,
    load_project,
    newer_autosave,
    restore_backup,
)
from storymem_engine.reference_images import export_official_references, official_references
from storymem_engine.story import Shot, Story, StoryError, load_story, save_story, story_from_script, story_to_script
from storymem_engine.words import counted

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

PROJECT_SUFFIX = ".storymem"
SAMPLE_STORY = Path(__file__).resolve().parent.parent / "resources" / "sample_story.json"
RECENT_CHECKED = 10  # recent projects looked at for an autosave left newer than their save, at start
MISSING_LISTED = 12


def describe_error(exc: BaseException) -> str:
    """One readable line for any save failure: the OS reason with the file, a copy error's first file."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        src, dst, why = exc.args[0][0]
        more = f" (and {len(exc.args[0]) - 1} more)" if len(exc.args[0]) > 1 else ""
        return f"could not copy {dst}: {why}{more}"
    if isinstance(exc, OSError) and exc.strerror:
        if not exc.filename:
            return exc.strerror
        where = Path(exc.filename)
        if where.name.startswith(".") and where.suffix in (".tmp", ".part"):
            where = where.parent  # an atomic write's temp file: the user knows the folder, not ".project.json.x1.tmp"
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"{exc.strerror}: {where} (a folder you cannot write: File > Save As saves the project elsewhere)"
        return f"{exc.strerror}: {where}"
    return f"{type(exc).__name__}: {exc}"


def project_folder_for(path: str | Path) -> Path:
    """The ``<name>.storymem`` folder for a path chosen in a save dialog."""
    path = Path(path)
    if path.name == PROJECT_FILE:
        return path.parent
    return path if path.suffix == PROJECT_SUFFIX else path.with_name(path.name + PROJECT_SUFFIX)


class FileController:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self._autosaved_at: int | None = None  # undo index of the last autosave
        self._autosave_failed = False
        # (folder, open lock) of the project shown, saved or unsaved: a second window on a saved one would save over
        # this one's edits (and this one over its), each without a word, and an unsaved one held by no window is
        # one a crash left behind (storyboard/unsaved_projects.py).
        self._held: tuple[Path, object] | None = None
        self._backup_note = ""  # said once the project opened from its backup is shown
        self._discard_later: Path | None = None  # an unsaved folder saved elsewhere while a queue still writes it
        # (shot id, take id) of every take this editor has had for the open project: as opened, or from its
        # Generate. A take on disk outside this set was recorded by someone else (storyboard/outside_takes.py).
        self._known_takes: set[tuple[str, str]] = set()
        self._checked_stamp: tuple[int, int, int] | None = None  # project.json when last looked at for such takes
        # project.json when it last held no take this editor lacks (read, or written by its save): a save skips the
        # re-read while it is unchanged.
        self._settled_stamp: tuple[int, int, int] | None = None
        self._told_lost: set[tuple[str, str]] = set()  # such takes for shots deleted here, already told of
        # The open project's folder, watched: a render's takes appear as it records them, not only when the window
        # is activated or saved (project.json is replaced by a rename, which a watch on the file itself would lose).
        self._watcher = QFileSystemWatcher(window)
        self._settle = QTimer(window)
        self._settle.setSingleShot(True)
        self._settle.setInterval(300)  # a save renames, then removes its temp file: one look after both
        self._settle.timeout.connect(self.look_for_outside_takes)
        self._watcher.directoryChanged.connect(lambda _path: self._settle.start())

    @property
    def project(self) -> Project:
        return self.window.project

    def project_shown(self, project: Project) -> None:
        self.hold(self.window.project_path)
        self._known_takes = take_keys(project.story)
        self._told_lost = set()
        self._checked_stamp = self._settled_stamp = None
        self._watch()

    def _watch(self) -> None:
        """Watch the open project's folder (a saved one: nothing renders into the app's unsaved folder)."""
        if self._watcher.directories():
            self._watcher.removePaths(self._watcher.directories())
        folder = self.window.project_path
        if folder is not None and not self.is_unsaved() and folder.is_dir():
            self._watcher.addPath(str(folder))

    def look_for_outside_takes(self) -> bool:
        """The project's folder changed, or the window is active again: list the takes a render in a terminal
        recorded in project.json meanwhile now, rather than at the next Save. One stat when nothing was written."""
        folder = self.window.project_path
        if folder is None or self.is_unsaved():
            return False
        stamp = _stamp(folder)
        if stamp is None or stamp == self._checked_stamp:
            return False
        self._checked_stamp = stamp
        added, lost = self._fold_in_outside_takes(folder)
        said = "; ".join(([f"Added {added}"] if added else []) + ([lost[0].upper() + lost[1:]] if lost else []))
        if said:
            self.window.statusBar().showMessage(f"{said}.", 30_000 if lost else 15_000)
        return bool(added)

    def saw_take(self, shot_id: str, take_id: str) -> None:
        """A take from the editor's own Generate: deleting it later deletes it, a Save does not bring it back."""
        self._known_takes.add((shot_id, take_id))

    # ------------------------------------------------------------ unsaved changes
    def is_modified(self) -> bool:
        # A project in the app's unsaved folder is never "saved": closing it asks, or its takes would be lost.
        return not self.window.undo_stack.isClean() or self.is_unsaved()

    def is_unsaved(self) -> bool:
        return is_unsaved(self.window.project_path)

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, discarded, or unchanged)."""
        if not self.is_modified():
            return True
        takes = sum(len(shot.takes) for shot in self.project.story.shots) if self.is_unsaved() else 0
        lost = f" Its {takes} take{'s' if takes != 1 else ''} would be deleted with it." if takes else ""
        answer = dialogs.ask_save_discard_cancel(
            self.window, f"Save the changes to “{self.window.display_name()}” before closing it?{lost}"
        )
        if answer == "save":
            return self.save()
        if answer == "discard":
            self._discard_unsaved()
            self._drop_autosave()  # discarded on purpose: the next start must not offer it back as a crash's
            return True
        return False

    def _drop_autosave(self) -> None:
        path = self.window.project_path
        if path is not None and not self.is_unsaved():
            try:
                (path / AUTOSAVE_FILE).unlink(missing_ok=True)
            except OSError:
                pass

    # ------------------------------------------------------------ unsaved projects (storyboard/unsaved_projects.py)
    def place_unsaved(self) -> bool:
        """Give a never-saved project a folder in the app's data folder, so takes have somewhere to go."""
        folder = new_unsaved_folder(self.project.story.name)
        try:
            self.project.folder = folder
            self.project.save()
        except Exception as exc:  # noqa: BLE001 - a dialog; the project stays open, unsaved
            self.project.folder = Path()
            dialogs.error(self.window, "Cannot create the project folder",
                          f"Could not write {folder}:\n{describe_error(exc)}\n\nUse File > Save As to choose "
                          "a folder.")
            return False
        self.window.project_path = folder
        self.hold(folder)
        self.window.update_title()
        self.window.statusBar().showMessage(
            "The project is kept in the app's data folder until you save it (File > Save As).", 10_000)
        return True

    def write_unsaved(self) -> bool:
        """Write an unsaved project's working copy (its project.json) without making it count as saved."""
        try:
            self.project.save()
        except Exception as exc:  # noqa: BLE001 - a dialog, never a crash
            dialogs.error(self.window, "Save failed", f"Could not write {self.project.folder}:\n"
                                                      f"{describe_error(exc)}")
            return False
        return True

    def _can_hold(self, folder: Path) -> bool:
        """Whether this window may open the project in ``folder``: no other app window holds it."""
        if self._held is not None and self._held[0] == folder:
            return True  # open here already (reopened)
        try:
            lock = hold_open(folder)
        except OSError:  # a read-only folder: no lock can be made there, and no save either
            return True
        if lock is None:
            return False
        lock.release()
        return True

    def hold(self, folder: Path | None) -> None:
        """Hold the open lock of the project shown (``folder``; None lets go), releasing the one of a project left."""
        if self._held is not None and self._held[0] == folder:
            return
        if self._held is not None:
            self._held[1].release()
            self._held = None
        if folder is None or not folder.is_dir():
            return
        try:
            lock = hold_open(folder)
        except OSError:  # a read-only folder: nothing can save there either
            return
        if lock is not None:
            self._held = (folder, lock)

    def _folder_gone(self) -> bool:
        """The saved project's folder was moved, renamed or deleted while open here."""
        path = self.window.project_path
        return path is not None and not self.is_unsaved() and not (path / PROJECT_FILE).is_file()

    def _gone_words(self) -> str:
        return (f"the project folder {self.window.project_path} is not there any more (moved, renamed or deleted "
                "while open).")

    def _discard_unsaved(self) -> None:
        """The never-saved project shown is dropped (discarded, or saved elsewhere): its folder in the app's data
        folder goes, once no queue writes it."""
        folder = self.window.project_path
        if is_unsaved(folder):
            self.hold(None)
            if self.window.generation.busy:
                self._discard_later = folder
            else:
                discard(folder)

    def queue_finished(self) -> None:
        """The generation queue stopped writing: an unsaved folder saved or discarded meanwhile can go now."""
        folder, self._discard_later = self._discard_later, None
        if folder is not None and folder != self.window.project_path:
            discard(folder)

    def offer_left_behind(self) -> bool:
        """At start: unsaved projects a crash left behind are offered back (True when one was reopened)."""
        for folder, story in left_behind_projects():
            # Three answers: a No that deleted it for good was one click from losing the work it was there to save.
            answer = dialogs.choose(
                self.window, "Reopen unsaved project?",
                f"{left_behind_words(folder, story)} was not saved when StoryMem Studio last closed.\n\nReopen it now, "
                "keep it for later (asked again at the next start; File > Open recent lists it), or delete it and "
                "its takes?",
                [("reopen", "Reopen"), ("delete", "Delete it")], cancel_label="Later")
            if answer == "reopen":
                return self.open_project(folder)
            if answer == "delete":
                discard(folder)
        return self._offer_autosaved()

    def open_at_start(self, path: Path | None) -> None:
        """The window's first project: ``path`` (a command line, a double-click), else unsaved work a crash left
        (asked), else the sample. A path that cannot be opened says why and the sample opens: never a blank window."""
        if path is not None and self.open_path(path):
            self._mention_left_behind()
        elif not self.offer_left_behind():
            self.open_sample()

    def _mention_left_behind(self) -> None:
        """A project was asked for: unsaved work a crash left is not offered in its place, but said."""
        found = left_behind_projects()
        if found:
            folder, story = found[0]
            more = f" (and {counted(len(found) - 1, 'other')})" if len(found) > 1 else ""
            self.window.statusBar().showMessage(
                f"“{story.name}”{more}, not saved when StoryMem Studio last closed, is kept: File > Open recent "
                "reopens it", 30_000)

    def _offer_autosaved(self) -> bool:
        """At start, after the unsaved ones: a recent saved project whose autosave is newer than its save (the app
        crashed or was killed with changes unsaved) is offered back once, restored."""
        for text in recent_projects()[:RECENT_CHECKED]:
            folder = Path(text)
            autosave = newer_autosave(folder) if (folder / PROJECT_FILE).is_file() else None
            if autosave is None or is_unsaved(folder) or not self._can_hold(folder):
                continue
            when = _changed_at(autosave)
            if dialogs.ask_yes_no(
                self.window, "Restore unsaved changes?",
                f"{folder} has changes autosaved at {when} that were never saved: StoryMem Studio closed without "
                "saving them.\n\nOpen the project with those changes? (No opens the sample; File > Open asks "
                "again, and the autosave is kept.)", default=True,
            ):
                return self.open_project(folder, restore=True)
            return False
        return False

    # ------------------------------------------------------------ new / open
    def new_project(self) -> bool:
        if not self.maybe_save():
            return False
        story = Story(name=UNTITLED_STORY, shots=[Shot(prompt="", cut=True, scene_num=1)])
        self.window.set_project(Project(folder=Path(), story=story), None)
        self.window.inspector.edit_prompt()  # the first thing to do in a new project is to write shot 1
        return True

    def open_sample(self) -> bool:
        try:
            story = load_story(SAMPLE_STORY)
        except StoryError as exc:
            dialogs.error(self.window, "Sample story", str(exc))
            return self.new_project()
        self.window.set_project(Project(folder=Path(), story=story), None)
        return True

    def _open_backup(self, folder: Path, exc: ProjectError) -> Project | None:
        """project.json does not open: the save before it (BACKUP_FILE) is offered when it does."""
        backup = folder / BACKUP_FILE
        try:
            project = load_project(folder, BACKUP_FILE)  # what restore_backup makes project.json again
            when = _changed_at(backup)
        except (ProjectError, OSError):
            dialogs.error(self.window, "Cannot open project", str(exc))
            return None
        if not dialogs.ask_yes_no(
            self.window, "Cannot open project",
            f"{exc}\n\nThe save before that one ({when}) is in {BACKUP_FILE} and opens. Open it? The damaged "
            f"{PROJECT_FILE} is kept beside it as {DAMAGED_FILE}; edits made after that save are in neither.",
            default=True,
        ):
            return None
        try:
            restore_backup(folder)
        except OSError as exc2:
            dialogs.error(self.window, "Cannot open project", f"{exc}\n\nOpening {BACKUP_FILE} failed too: "
                                                              f"{describe_error(exc2)}")
            return None
        self._backup_note = (f"Opened the save before the last one ({when}); the damaged file is {DAMAGED_FILE} in "
                             "the project folder.")
        return project

    def open_dialog(self) -> bool:
        if not self.maybe_save():
            return False
        path = dialogs.open_file(
            self.window, "Open project or story",
            "StoryMem project (project.json);;Story script (*.json);;All files (*)",
            self.window.dialog_start(inside_project=False),
        )
        if path:
            self.window.remember_folder(Path(path).parent)
        return self.open_path(path) if path else False

    def open_path(self, path: str | Path) -> bool:
        """A project folder (or its project.json) opens as a project; any other JSON imports as a story."""
        path = Path(path)
        if path.is_dir() or path.name == PROJECT_FILE:
            return self.open_project(path if path.is_dir() else path.parent)
        if path.suffix == PROJECT_SUFFIX:  # a project moved or deleted since (a recent entry, a command line)
            gone = (f"{path} is a file, not a project folder: a project is a folder holding {PROJECT_FILE}."
                    if path.exists() else f"{path} is not there any more: it was moved, renamed or deleted.")
            dialogs.error(self.window, "Cannot open project", gone)
            return False
        return self.import_story(path, ask=False)

    def open_project(self, folder: Path, restore: bool | None = None) -> bool:
        """Open a project folder; a newer autosave is restored when ``restore`` (asked when None)."""
        folder = Path(folder)
        if not self._can_hold(folder):
            why = "" if is_unsaved(folder) else (": edit it there. Two windows saving one project would each "
                                                  "overwrite the other's changes")
            dialogs.error(self.window, "Cannot open project", f"{folder} is open in another StoryMem Studio "
                                                              f"window{why}.")
            return False
        project, restored = None, False
        autosave = newer_autosave(folder)
        if autosave is not None and (restore or restore is None and dialogs.ask_yes_no(
            self.window, "Restore autosave",
            f"{folder.name} has autosaved changes newer than its last save.\n"
            "Restore them? (No opens the last saved version; the autosave is kept.)",
            default=True,
        )):
            try:
                project = load_project(folder, AUTOSAVE_FILE)
                restored = True
            except ProjectError as exc:
                dialogs.error(self.window, "Cannot restore autosave", f"{exc}\n\nOpening the last save instead.")
        if project is None:
            try:
                project = load_project(folder)
            except ProjectError as exc:
                project = self._open_backup(folder, exc)
                if project is None:
                    return False
        self.window.set_project(project, folder, modified=restored)
        self._autosaved_at = None
        if not is_unsaved(folder):
            add_recent(str(folder))
        note, self._backup_note = self._backup_note, ""
        if note:
            self.window.statusBar().showMessage(note, 30_000)
        missing = project.missing_files()
        if missing:
            self._say_missing(project, folder, missing)
        return True

    def _say_missing(self, project: Project, folder: Path, missing: list[str]) -> None:
        """Which files named in the project are gone, and how each kind comes back."""
        story = project.story
        gone = set(missing)
        listed = "\n".join(missing[:MISSING_LISTED])
        more = f"\n… and {len(missing) - MISSING_LISTED} more" if len(missing) > MISSING_LISTED else ""
        clips = {t.clip for s in story.shots for t in s.takes} & gone
        take_files = {p for s in story.shots for t in s.takes for p in t.files()} & gone
        cast_images = {image.path for member in story.cast for image in member.images} & gone
        said = [f"The project itself opened fine. Files put back where the list says, inside {folder}, are found "
                "when the project is opened again."]
        if clips:
            said.append("Takes whose clips are gone show MISSING on their cards: Generate > Regenerate stale shots "
                        "(Ctrl+Shift+R) makes those shots again.")
        if take_files - clips:
            said.append("A take's keyframes or last frames gone: the shots after it that remember or continue it "
                        "cannot be generated until that shot is made again (Generate shot, Ctrl+G).")
        if cast_images:
            said.append("Cast members whose images are gone say \"missing\" in the Cast tab: add the images again, "
                        "or remove the member.")
        if story.soundtrack is not None and story.soundtrack.file in gone:
            said.append("The film exports refuse a missing soundtrack: put it back, or choose another or remove it "
                        "in File > Soundtrack.")
        one = len(missing) == 1
        dialogs.warning(self.window, "Missing files",
                        f"{counted(len(missing), 'file')} named in this project {'is' if one else 'are'} not in "
                        f"{folder}, or {'is' if one else 'are'} empty:\n{listed}{more}\n\n" + "\n\n".join(said))

    # ------------------------------------------------------------ save
    def save(self) -> bool:
        if self.window.project_path is None or self.is_unsaved():
            return self.save_as()
        return self._write(self.window.project_path)

    def save_as(self) -> bool:
        chosen = dialogs.save_file(self.window, "Save project as", "StoryMem project (*.storymem)",
                                   self.window.dialog_start(self._offered_name(), inside_project=False))
        if not chosen:
            return False
        self.window.remember_folder(Path(chosen).parent)
        folder = project_folder_for(chosen)
        if is_unsaved(folder):
            dialogs.error(self.window, "Choose another folder", "That folder is where the app keeps unsaved projects; "
                                                                "save the project somewhere of your own.")
            return False
        if folder.exists() and not folder.is_dir():  # the write said only "Not a directory"
            dialogs.error(self.window, "Choose another name", f"{folder} is a file: a project is a folder (holding "
                                                               f"{PROJECT_FILE} and the takes). Choose another name.")
            return False
        holder = next((p for p in folder.parents if (p / PROJECT_FILE).is_file()), None)
        if holder is not None:
            dialogs.error(self.window, "Choose another folder",
                          f"{folder.name} would be inside the project {holder.name}, among its takes. Save it next "
                          f"to that project instead, in {holder.parent}.")
            return False
        if folder != self.window.project_path and (folder / PROJECT_FILE).exists():
            if not self._can_hold(folder):  # as Open says it: the other window's saves and these would alternate
                dialogs.error(self.window, "Choose another folder", f"{folder} is open in another StoryMem Studio "
                                                                    "window: saving over it there would lose the "
                                                                    "changes of one of you. Choose another name.")
                return False
            if not dialogs.ask_yes_no(self.window, "Replace project?", self._replacing_words(folder)):
                return False
        story = self.window.project.story
        before = story.name
        if before in ("", UNTITLED_STORY):
            # The name the user just chose, as the window's title shows it: the exports said "Untitled story" for
            # good (File > Story name and overview changes it).
            story.name = folder.name.removesuffix(PROJECT_SUFFIX) or UNTITLED_STORY
        if self._write(folder):
            return True
        story.name = before  # not saved: nothing of the project changed
        return False

    @staticmethod
    def _replacing_words(folder: Path) -> str:
        """What saving over another project loses, in numbers: "Replace?" alone hid a story and its takes."""
        try:
            other = load_project(folder).story
            held = f"the project “{other.name}” ({_in_numbers(other)})"
        except (ProjectError, OSError):
            held = "a project"
        return (f"{folder} already holds {held}. Replace it with this one? Its story is then only in "
                "project.backup.json (until the next save there) and its takes stay in the folder, no longer part "
                "of any project.")

    def _offered_name(self) -> str:
        """The name Save As offers: the project's own name would be its folder, which a file dialog opens instead
        of offering (a plain name typed there then saved the copy inside the project), so a saved project offers
        "<name> copy"."""
        name = file_name_from(self.window.display_name())
        if self.window.project_path is None or self.is_unsaved():
            return name + PROJECT_SUFFIX
        parent = self.window.project_path.parent
        candidates = (f"{name} copy" + (f" {n}" if n > 1 else "") for n in range(1, 1000))
        return next(c for c in candidates if not (parent / (c + PROJECT_SUFFIX)).exists()) + PROJECT_SUFFIX

    def _write(self, folder: Path) -> bool:
        project = self.project
        old_folder = project.folder
        old_path = self.window.project_path
        moving = old_path is not None and folder.resolve() != old_path.resolve()
        if not moving and self._folder_gone():
            dialogs.error(self.window, "Save failed", f"Could not save: {self._gone_words()}\n\nUse File > Save As "
                          "to save your work in a folder of your choice.")
            return False
        created = not folder.exists()
        had_media = any((folder / name).exists() for name in MEDIA_DIRS)
        lock = self._writer_lock(folder)
        if lock is False:
            return False
        try:
            return self._write_locked(folder, project, old_folder, old_path, moving, created, had_media)
        finally:
            if lock is not None:
                lock.release()

    def _writer_lock(self, folder: Path):
        """The project's writer lock for the save (None when the editor's own Generate holds it); False, having
        said why, when a render writes into the folder now: its next take would write over this save."""
        if self.window.generation.writes_into(folder):
            return None
        try:
            return acquire_writer_lock(folder)
        except ProjectBusy:
            dialogs.error(self.window, "A render is writing this project",
                          f"{folder} is being written right now by a render (main.py render) or another "
                          "window's Generate: its next take would write over this save.\n\nWait for it to finish "
                          "and save again (your changes stay here), or save a copy with File > Save As.")
            return False
        except OSError:
            return None  # the folder cannot be made or written: the save itself says so

    def _fold_in_outside_takes(self, folder: Path, saving: bool = False) -> tuple[str, str]:
        """Add the takes another writer recorded in the folder's project.json meanwhile (a render run in a
        terminal) to the open project, so a save keeps them. In words ("" for none): what was added, and the takes
        it recorded for shots deleted here, which are not (told once)."""
        if not (folder / PROJECT_FILE).is_file():
            return "", ""
        stamp = _stamp(folder)
        try:
            on_disk = load_project(folder)
        except Exception:  # noqa: BLE001 - an unreadable project.json is replaced by the save, as before
            return "", ""
        live = self.project.story
        known = self._known_takes | take_keys(live)
        found = takes_recorded_outside(on_disk.story, live, known)
        pending = takes_for_deleted_shots(on_disk.story, live, known)
        # Nothing left out (a take for a shot deleted here comes in if the delete is undone): a save may skip this.
        self._settled_stamp = stamp if not pending else None
        # Told once each: a save then writes project.json without them (the shot stays deleted).
        lost = [(shot, take) for shot, take in pending if (shot.id, take.id) not in self._told_lost]
        self._told_lost |= {(shot.id, take.id) for shot, take in lost}
        lost_words = deleted_shot_words(lost, saving)
        if not found:
            return "", lost_words
        model = self.window.model
        for item in found:
            model.shot_at(model.row_of(item.shot_id)).add_take(item.take)
            self._known_takes.add((item.shot_id, item.take.id))
        # One repaint of every card for all of them (a render finished while away may have recorded many).
        model.set_shots_field("accepted_take", {item.shot_id: item.take.id for item in found if item.accepted})
        rows = sorted({model.row_of(item.shot_id) for item in found})
        count = f"{len(found)} take{'s' * (len(found) != 1)}"
        return f"{count} a render recorded in project.json meanwhile ({shots_in_words(rows)})", lost_words

    def _write_locked(self, folder: Path, project: Project, old_folder: Path, old_path: Path | None, moving: bool,
                      created: bool, had_media: bool) -> bool:
        # Only over its own project.json: a Save As over another project (confirmed) replaces that one.
        # Unchanged since this editor last read or wrote it: nothing to fold in (a re-read of a 1,000-shot project
        # was most of a Ctrl+S).
        unchanged = self._settled_stamp is not None and _stamp(folder) == self._settled_stamp
        folded, lost = self._fold_in_outside_takes(folder, saving=True) \
            if old_path is not None and not moving and not unchanged else ("", "")
        try:
            if moving:  # the takes, the cast's images and the music go with the project
                copy_media(old_path, folder, self.window)
            project.folder = folder
            project.save()
            # Our own write: nothing in it to fold in, at the next look or save.
            self._checked_stamp = self._settled_stamp = _stamp(folder)
        except CopyCancelled:
            project.folder = old_folder
            cleaned = self._undo_partial_copy(folder, created, had_media).strip()
            self.window.statusBar().showMessage(f"Save As cancelled: the project is still {old_path}. {cleaned}",
                                                15_000)
            return False
        except Exception as exc:  # noqa: BLE001 - any failure is a dialog; the window and the work stay
            project.folder = old_folder
            cleaned = self._undo_partial_copy(folder, created, had_media) if moving else ""
            self.window.statusBar().clearMessage()  # an earlier "Saved …" beside the failure read as this save's
            dialogs.error(self.window, "Save failed",
                          f"Could not save to {folder}:\n{describe_error(exc)}\n\n"
                          f"The previous saved version is unchanged.{cleaned}")
            return False
        try:
            (folder / AUTOSAVE_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        if is_unsaved(old_path) and moving:
            self._discard_unsaved()  # moved out of the app's folder: the copy there goes
        self.window.project_path = folder
        self.hold(folder)
        self._known_takes |= take_keys(project.story)  # saved by this editor: deleting one later is on purpose
        self._watch()
        self.window.undo_stack.setClean()
        self._autosaved_at = None
        add_recent(str(folder))
        self.window.update_title()
        said = (f"; added {folded}" if folded else "") + (f"; {lost}" if lost else "")
        self.window.statusBar().showMessage(f"Saved {folder / PROJECT_FILE}{said}", 30_000 if lost else
                                            15_000 if folded else 5000)
        return True

    @staticmethod
    def _undo_partial_copy(folder: Path, created: bool, had_media: bool) -> str:
        """Remove the files a failed Save As copied, so no half project is left behind."""
        if (folder / PROJECT_FILE).exists() or had_media:
            return ""
        if not folder.exists():
            return ""  # never made (a read-only parent): nothing was copied, nothing to tell
        try:
            if created:
                shutil.rmtree(folder)
            else:
                for name in MEDIA_DIRS:
                    if (folder / name).exists():
                        shutil.rmtree(folder / name)
        except OSError:
            return f"\nA partial copy of the project's files is left in {folder}; you can delete it."
        return "\nThe partial copy was removed."

    # ------------------------------------------------------------ autosave
    def autosave(self) -> bool:
        """Write the side file AUTOSAVE_FILE when there are changes since the last (auto)save."""
        stack = self.window.undo_stack
        if stack.isClean() or self._autosaved_at == stack.index():
            return False
        if self.window.project_path is None:
            # A never-saved project gets its folder in the app's data folder, so a crash does not lose it.
            if not self.place_unsaved():
                return False
            self._autosaved_at = stack.index()
            return True
        if self._folder_gone():  # saving there would make the folder again, holding only the autosave
            if not self._autosave_failed:
                self.window.statusBar().showMessage(f"Autosave stopped: {self._gone_words()} File > Save As keeps "
                                                    "your work.", 30_000)
            self._autosave_failed = True
            return False
        try:
            # An unsaved project's project.json is its working copy (offered back after a crash).
            self.project.save(PROJECT_FILE if self.is_unsaved() else AUTOSAVE_FILE)
        except Exception as exc:  # noqa: BLE001 - autosave never interrupts; it says so once
            if not self._autosave_failed:
                self.window.statusBar().showMessage(f"Autosave failed: {describe_error(exc)}", 10000)
            self._autosave_failed = True
            return False
        self._autosave_failed = False
        self._autosaved_at = stack.index()
        return True

    def invalidate_autosave(self) -> None:
        """Something outside the undo stack changed (a take arrived): the next autosave writes again."""
        self._autosaved_at = None

    # ------------------------------------------------------------ story JSON (benchmark format)
    def import_story(self, path: str | Path | None = None, ask: bool = True) -> bool:
        """The script is read before the open project's changes are asked about: a script that cannot be
        imported closes nothing, so nothing is asked for it."""
        if path is None:
            path = dialogs.open_file(self.window, "Import story script", "Story script (*.json);;All files (*)",
                                     self.window.dialog_start(inside_project=False))
            if not path:
                return False
            self.window.remember_folder(path)
        try:
            story = load_story(path)
        except StoryError as exc:
            dialogs.error(self.window, "Cannot import story", str(exc))
            return False
        if ask and not self.maybe_save():
            return False
        self.window.set_project(Project(folder=Path(), story=story), None, modified=True)
        references = official_references(Path(path))
        if references:
            self._import_references(references, Path(path))
        scenes = len({shot.scene_num for shot in story.shots})
        cast = (f"; its {counted(len(references), 'reference image')} lead every shot's memory (the Cast tab)"
                if story.cast else "")
        self.window.statusBar().showMessage(
            f"Imported {Path(path).name}: {counted(len(story.shots), 'shot')} in {counted(scenes, 'scene')}{cast}. "
            "File > Save As keeps it as a project.", 15_000)
        return True

    def _import_references(self, references: list[Path], script: Path) -> None:
        """The authors' MR2V references beside the script (<stem>/00_00_keyframe<n>.jpg) become a cast member
        attached to every shot, as that run uses them (first in every shot's memory)."""
        name = f"References ({script.with_suffix('').name}/)"
        if self.window.casting.add_files([str(p) for p in references], name=name):
            self.window.undo_stack.clear()  # the import is one step: nothing before it to undo to
            self.window.undo_stack.resetClean()

    def export_story(self) -> bool:
        # The script format carries prompts, scenes and cuts only: one its own reader refuses (an empty prompt, a
        # scene number that comes back later) is asked about first, never found out at the next import.
        try:
            story_from_script(story_to_script(self.project.story), "the script")
        except StoryError as exc:
            if not dialogs.ask_yes_no(self.window, "Export story script",
                                      f"This story does not fit the story script format: {exc}.\n\nImport story "
                                      "script and main.py render would refuse the file. Write it anyway?"):
                return False
        path = self.window.ask_export_path("Export story script", "Story script (*.json)", ".json")
        if path is None:
            return False
        try:
            save_story(self.project.story, path)
            references = export_official_references(self.project, path) if self.project.story.cast else []
        except Exception as exc:  # noqa: BLE001 - a dialog, never a crash of the window
            dialogs.error(self.window, "Export failed", f"Could not write {path}:\n{describe_error(exc)}")
            return False
        beside = (f" and {counted(len(references), 'MR2V reference image')} in {references[0].parent.name}/ (the "
                  "official run's --output_dir, with --m2v_first_shot)") if references else ""
        self.window.statusBar().showMessage(f"Exported story to {path}{beside}: prompts, scenes and cuts (notes, shot "
                                            "settings and takes stay in the project)", 10_000)
        return True


def left_behind_projects() -> list[tuple[Path, Story]]:
    """The unsaved projects a crash left (no app window holds them), newest first, with their stories."""
    found = []
    for folder in left_behind():
        try:
            found.append((folder, load_project(folder).story))
        except ProjectError:
            continue
    return found


def left_behind_words(folder: Path, story: Story) -> str:
    """“Name” (6 shots, 1 take, last changed 2026-12-01 10:02, opening “Wide shot of a white lighthouse …”)."""
    first = next((first_words(s.prompt, 8) for s in story.shots if s.prompt.strip()), "")
    opening = f", opening “{first}”" if first else ""
    return f"“{story.name}” ({_in_numbers(story)}, last changed {_changed_at(folder / PROJECT_FILE)}{opening})"


def _changed_at(path: Path) -> str:
    """When the file was last written, as the questions about it say it (local time, to the minute)."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))


def _in_numbers(story: Story) -> str:
    """"6 shots, 1 take": what a question about a whole project puts at stake."""
    return f"{counted(len(story.shots), 'shot')}, {counted(sum(len(s.takes) for s in story.shots), 'take')}"


def _stamp(folder: Path) -> tuple[int, int, int] | None:
    """project.json's (inode, mtime, size), None when it cannot be read. The inode too: project.json is replaced
    whole (atomic rename), and a coarse clock can give two writes within a second the same mtime."""
    try:
        found = (folder / PROJECT_FILE).stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size
