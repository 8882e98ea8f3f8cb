"""Save, reopen, autosave recovery, atomic saves, unsaved-changes prompts, bad files."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from ui_helpers import add_take, ids, prompts

from storyboard.recent import recent_projects
from storymem_engine import atomic
from storymem_engine.project import (
    AUTOSAVE_FILE,
    BACKUP_FILE,
    DAMAGED_FILE,
    PROJECT_FILE,
    load_project,
    newer_autosave,
)


def save_as(window, recorded_dialogs, target: Path) -> Path:
    recorded_dialogs.paths.append(str(target))
    assert window.files.save_as()
    return window.project_path


def test_save_reopen_gives_identical_story(window, recorded_dialogs, tmp_path, qtbot):
    window.edits.move([ids(window)[0]], 3)
    window.edits.edit_field(ids(window)[1], "notes", "handheld")
    assert window.isWindowModified()
    folder = save_as(window, recorded_dialogs, tmp_path / "kite")
    assert folder == tmp_path / "kite.storymem" and (folder / PROJECT_FILE).is_file()
    # The status bar names the project's folder; its full path (long) is in the tooltip.
    qtbot.waitUntil(lambda: window.shot_count_label.text().endswith(" selected · kite.storymem"))
    assert window.shot_count_label.toolTip().endswith(f"Saved in {folder / PROJECT_FILE}")
    assert not window.isWindowModified() and "kite[*]" in window.windowTitle()
    saved = window.project.story.to_dict()

    window.files.new_project()
    assert window.model.rowCount() == 1
    assert window.files.open_path(folder)
    assert window.project.story.to_dict() == saved
    assert recent_projects()[0] == str(folder)
    assert recorded_dialogs.messages == []


def test_save_as_of_a_saved_project_offers_a_copy_beside_it_never_inside(window, recorded_dialogs, tmp_path,
                                                                         monkeypatch):
    from storyboard import dialogs

    folder = save_as(window, recorded_dialogs, tmp_path / "Fox.storymem")
    offered: list[str] = []
    monkeypatch.setattr(dialogs, "save_file", lambda _p, _t, _f, start="": offered.append(start) or None)
    assert not window.files.save_as()
    # The project's own name is its folder, which a file dialog would open instead of offering.
    assert offered == [str(tmp_path / "Fox copy.storymem")]
    (tmp_path / "Fox copy.storymem").mkdir()
    assert not window.files.save_as() and offered[-1] == str(tmp_path / "Fox copy 2.storymem")

    # A name typed while the dialog showed the project's own folder: refused, nothing written there.
    monkeypatch.setattr(dialogs, "save_file", lambda *_a, **_k: str(folder / "Fox v2"))
    assert not window.files.save_as()
    assert recorded_dialogs.texts("error") == [
        f"Fox v2.storymem would be inside the project Fox.storymem, among its takes. Save it next to that project "
        f"instead, in {tmp_path}."]
    assert not (folder / "Fox v2.storymem").exists() and window.project_path == folder


def test_save_as_offers_a_name_any_system_can_hold_and_starts_beside_an_opened_project(window, recorded_dialogs,
                                                                                        tmp_path, monkeypatch):
    from storyboard import dialogs

    folder = save_as(window, recorded_dialogs, tmp_path / "Fox.storymem")
    window.files.new_project()
    # File > Open of Fox's project.json remembered Fox's own folder: a new project's Save As started inside it,
    # where it was then refused as "inside the project".
    window.remember_folder(folder / PROJECT_FILE)
    window.project.story.name = "The Queen: Part 1/2"  # an imported script's title
    offered: list[str] = []
    monkeypatch.setattr(dialogs, "save_file", lambda _p, _t, _f, start="": offered.append(start) or None)
    assert not window.files.save_as()
    assert offered == [str(tmp_path / "The Queen - Part 1-2.storymem")]  # no ':' (Windows, Finder), no '/'

    # A file where the project folder would go: said so, not "Not a directory".
    (tmp_path / "notes.storymem").write_text("mine")
    monkeypatch.setattr(dialogs, "save_file", lambda *_a, **_k: str(tmp_path / "notes.storymem"))
    assert not window.files.save_as()
    assert recorded_dialogs.texts("error")[-1].startswith(f"{tmp_path / 'notes.storymem'} is a file: a project is a "
                                                          "folder")
    assert (tmp_path / "notes.storymem").read_text() == "mine" and window.project_path is None


def test_ctrl_s_on_a_saved_project_writes_in_place(window, recorded_dialogs, tmp_path):
    folder = save_as(window, recorded_dialogs, tmp_path / "a.storymem")
    window.edits.edit_field(ids(window)[0], "prompt", "changed", burst=1)
    window.actions_by_name["save"].trigger()
    assert load_project(folder).story.shots[0].prompt == "changed"
    assert not window.isWindowModified()


def test_autosave_side_file_and_recovery(window, recorded_dialogs, tmp_path):
    folder = save_as(window, recorded_dialogs, tmp_path / "auto")
    assert not window.files.autosave()  # nothing changed since the save
    window.edits.edit_field(ids(window)[0], "prompt", "autosaved prompt")
    assert window.files.autosave()
    assert not window.files.autosave()  # nothing new since the last autosave
    assert (folder / AUTOSAVE_FILE).is_file()
    assert load_project(folder).story.shots[0].prompt != "autosaved prompt"  # the real save is untouched
    os.utime(folder / AUTOSAVE_FILE, (os.path.getmtime(folder / PROJECT_FILE) + 5,) * 2)
    assert newer_autosave(folder) is not None
    window.undo_stack.setClean()

    recorded_dialogs.yes_no.append(False)  # open the last save
    assert window.files.open_path(folder)
    assert window.project.story.shots[0].prompt != "autosaved prompt" and not window.isWindowModified()

    recorded_dialogs.yes_no.append(True)  # restore
    assert window.files.open_path(folder)
    assert window.project.story.shots[0].prompt == "autosaved prompt"
    assert window.isWindowModified()  # restored changes are not saved yet
    assert window.files.save()
    assert not (folder / AUTOSAVE_FILE).exists()
    assert load_project(folder).story.shots[0].prompt == "autosaved prompt"


def test_crash_mid_save_keeps_the_old_project(window, recorded_dialogs, tmp_path, monkeypatch):
    folder = save_as(window, recorded_dialogs, tmp_path / "crash")
    before = (folder / PROJECT_FILE).read_bytes()
    window.edits.edit_field(ids(window)[0], "prompt", "never written")

    def crash(*_args):
        raise OSError(errno.EIO, "simulated crash during rename")

    monkeypatch.setattr(atomic.os, "replace", crash)
    assert not window.files.save()
    assert recorded_dialogs.kinds() == ["error"] and "previous saved version is unchanged" in \
        recorded_dialogs.texts("error")[0]
    assert (folder / PROJECT_FILE).read_bytes() == before
    assert load_project(folder).story.shots[0].prompt != "never written"
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []  # no temp left behind
    assert window.isWindowModified()


def test_full_disk_on_save_is_reported(window, recorded_dialogs, tmp_path, monkeypatch):
    folder = save_as(window, recorded_dialogs, tmp_path / "full")
    before = (folder / PROJECT_FILE).read_bytes()
    window.edits.edit_field(ids(window)[0], "prompt", "x")

    def no_space(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    assert not window.files.save()
    assert "No space left on device" in recorded_dialogs.texts("error")[0]
    assert (folder / PROJECT_FILE).read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_on_save_is_reported(window, recorded_dialogs, tmp_path):
    folder = save_as(window, recorded_dialogs, tmp_path / "ro")
    before = (folder / PROJECT_FILE).read_bytes()
    window.edits.edit_field(ids(window)[0], "prompt", "x")
    folder.chmod(0o555)
    try:
        assert not window.files.save()
    finally:
        folder.chmod(0o755)
    assert recorded_dialogs.kinds() == ["error"]
    assert (folder / PROJECT_FILE).read_bytes() == before


def test_read_only_save_reported_even_as_root(window, recorded_dialogs, tmp_path, monkeypatch):
    folder = save_as(window, recorded_dialogs, tmp_path / "ro2")
    window.edits.edit_field(ids(window)[0], "prompt", "x")

    def read_only(*_args, **_kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system", str(folder / ".project.json.x1y2.tmp"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    assert not window.files.save()
    # The folder, not the atomic write's temp file, and the way out.
    assert (f"Read-only file system: {folder} (a folder you cannot write: File > Save As saves the project "
            "elsewhere)") in recorded_dialogs.texts("error")[0]
    assert load_project(folder).story.shots[0].prompt != "x"


def test_malformed_and_unreadable_files_are_clear_errors(window, recorded_dialogs, tmp_path):
    start = prompts(window)
    broken = tmp_path / "broken.storymem"
    broken.mkdir()
    (broken / PROJECT_FILE).write_text("{ not json")
    assert not window.files.open_path(broken)
    assert not window.files.open_path(tmp_path / "nowhere.storymem")
    (tmp_path / "story.json").write_text(json.dumps({"story_name": "x", "scenes": [{"scene_num": 1}]}))
    assert not window.files.open_path(tmp_path / "story.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    assert not window.files.open_path(tmp_path / "binary.json")
    errors = recorded_dialogs.texts("error")
    assert len(errors) == 4
    assert "not valid JSON at line 1, column 3 (expected a field name in double quotes)" in errors[0]
    assert errors[1] == f"{tmp_path / 'nowhere.storymem'} is not there any more: it was moved, renamed or deleted."
    assert recorded_dialogs.messages[1][1] == "Cannot open project"  # a project, not a story to import
    assert "video_prompts" in errors[2]
    assert "binary.json" in errors[3]
    (tmp_path / "afile.storymem").write_text("not a folder")
    assert not window.files.open_path(tmp_path / "afile.storymem")
    assert recorded_dialogs.texts("error")[-1] == (f"{tmp_path / 'afile.storymem'} is a file, not a project folder: a "
                                                   "project is a folder holding project.json.")
    assert prompts(window) == start  # the open project is untouched


def test_a_damaged_project_file_opens_from_the_save_before_it(window, recorded_dialogs, tmp_path):
    """project.json cut off (a disk, a sync tool, a hand edit): the save before it is offered, the damaged file
    kept aside, never deleted."""
    recorded_dialogs.paths.append(str(tmp_path / "Damaged"))
    assert window.files.save_as()
    folder = window.project_path
    window.edits.edit_field(window.project.story.shots[0].id, "prompt", "the second save")
    assert window.files.save()
    assert (folder / BACKUP_FILE).is_file()  # the first save, kept by the second
    saved = (folder / PROJECT_FILE).read_text()
    (folder / PROJECT_FILE).write_text(saved[: len(saved) // 2])
    window.files.hold(None)  # as a second window would find it

    recorded_dialogs.yes_no.append(False)  # No: nothing changes on disk
    assert not window.files.open_project(folder)
    assert "not valid JSON" in recorded_dialogs.questions[-1] and BACKUP_FILE in recorded_dialogs.questions[-1]
    assert not (folder / DAMAGED_FILE).exists()
    recorded_dialogs.yes_no.append(True)
    assert window.files.open_project(folder)
    assert window.project.story.shots[0].prompt != "the second save"  # the save before it
    assert (folder / DAMAGED_FILE).read_text() == saved[: len(saved) // 2]  # kept, byte for byte
    assert load_project(folder).story.shots[0].prompt == window.project.story.shots[0].prompt
    assert not window.isWindowModified()
    assert window.statusBar().currentMessage().startswith("Opened the save before the last one (")
    # No backup (or a damaged one too): the error alone, as before.
    (folder / PROJECT_FILE).write_text("{")
    (folder / BACKUP_FILE).write_text("{")
    window.files.hold(None)
    asked = len(recorded_dialogs.questions)
    assert not window.files.open_project(folder)
    assert len(recorded_dialogs.questions) == asked and "not valid JSON" in recorded_dialogs.texts("error")[-1]


def test_missing_clip_files_are_listed_on_open(window, recorded_dialogs, tmp_path):
    folder = save_as(window, recorded_dialogs, tmp_path / "takes")
    add_take(window.project, 0)
    add_take(window.project, 1)
    assert window.files.save()
    clip = folder / window.project.story.shots[1].accepted().clip
    clip.unlink()
    keyframe = window.project.story.shots[0].accepted().keyframes[0]
    (folder / keyframe).write_bytes(b"")  # cut off at its start: as unusable as a deleted one, and listed too
    assert window.files.open_path(folder)
    warning = recorded_dialogs.texts("warning")[0]
    assert "2 files named in this project are not in" in warning
    assert window.project.story.shots[1].accepted().clip in warning and keyframe in warning
    assert "or are empty" in warning
    # What brings each back: the files put back, or the shots made again (and which command does it).
    assert f"Files put back where the list says, inside {folder}, are found when the project is opened again" in warning
    assert "Takes whose clips are gone show MISSING on their cards: Generate > Regenerate stale shots" in warning
    assert "keyframes or last frames gone" in warning and "Generate shot, Ctrl+G" in warning
    assert "Cast" not in warning and "soundtrack" not in warning  # only what is gone is spoken of
    window.edits.select_shots([window.project.story.shots[1].id])
    assert "missing" in window.preview.player.screen_label.text().lower()


def test_import_and_export_story_json(window, recorded_dialogs, tmp_path):
    from storymem_engine.project import Project
    from storymem_engine.story import load_story

    out = tmp_path / "exported.json"
    recorded_dialogs.paths.append(str(out))
    assert window.files.export_story()
    assert load_story(out).to_dict()["shots"][0]["prompt"] == prompts(window)[0]
    assert window.statusBar().currentMessage().endswith(": prompts, scenes and cuts (notes, shot settings and takes "
                                                        "stay in the project)")

    # A story its own importer would refuse is asked about before anything is written.
    first = window.project.story.shots[0].prompt
    window.project.story.shots[0].prompt = ""
    assert not window.files.export_story()  # answered No: no file dialog even opens
    assert "does not fit the story script format" in recorded_dialogs.questions[-1]
    window.project.story.shots[0].prompt = first

    out.write_text("keep me")
    recorded_dialogs.paths.append(str(out))
    recorded_dialogs.yes_no.append(False)  # do not replace
    assert not window.files.export_story()
    assert out.read_text() == "keep me"

    recorded_dialogs.paths.append(str(Path(__file__).parents[2] / "resources" / "sample_story.json"))
    assert window.actions_by_name["import_story"].trigger() is None
    assert window.model.rowCount() == 6 and window.isWindowModified()
    # The next project opened is as saved: the import's "changed" mark does not carry over (it asked to save on
    # close and autosaved an untouched project).
    saved = tmp_path / "saved.storymem"
    Project(folder=saved, story=window.project.story).save()
    recorded_dialogs.save_discard_cancel.append("discard")
    assert window.files.open_path(saved)
    assert not window.isWindowModified() and not window.files.autosave()


def test_close_with_unsaved_changes_asks(window, recorded_dialogs, tmp_path):
    window.show()
    window.edits.add_shot()
    recorded_dialogs.save_discard_cancel.append("cancel")
    assert not window.close()
    assert window.isVisible()
    recorded_dialogs.save_discard_cancel.append("save")
    recorded_dialogs.paths.append(str(tmp_path / "closing"))
    assert window.close()
    assert (tmp_path / "closing.storymem" / PROJECT_FILE).is_file()


def test_save_as_copies_takes_and_open_action_and_recent_menu(window, recorded_dialogs, tmp_path):
    from storyboard.menus import fill_recent_menu

    first = save_as(window, recorded_dialogs, tmp_path / "one")
    add_take(window.project, 0)
    assert window.files.save()
    second = save_as(window, recorded_dialogs, tmp_path / "two.storymem")
    assert second == tmp_path / "two.storymem"
    assert window.project.missing_files() == []
    assert (second / window.project.story.shots[0].accepted().clip).is_file()
    assert "two[*]" in window.windowTitle()

    recorded_dialogs.paths.append(str(first / PROJECT_FILE))
    window.actions_by_name["open"].trigger()
    assert window.project_path == first
    fill_recent_menu(window)
    entries = [a.text() for a in window.recent_menu.actions() if a.text()]
    assert entries[:2] == [str(first), str(second)]
    # A project gone since says so instead of being greyed out without a reason.
    (second / PROJECT_FILE).unlink()
    fill_recent_menu(window)
    gone = next(a for a in window.recent_menu.actions() if a.text().startswith(str(second)))
    assert gone.text() == f"{second}  (not found)" and not gone.isEnabled() and "Moved, renamed" in gone.toolTip()


def test_replacing_an_existing_project_folder_asks(window, recorded_dialogs, tmp_path):
    folder = save_as(window, recorded_dialogs, tmp_path / "taken")
    before = (folder / PROJECT_FILE).read_bytes()
    window.files.new_project()
    recorded_dialogs.paths.append(str(folder))
    recorded_dialogs.yes_no.append(False)
    assert not window.files.save_as()
    assert (folder / PROJECT_FILE).read_bytes() == before


def test_any_save_failure_is_a_dialog_and_closing_keeps_the_window_and_the_work(window, recorded_dialogs, tmp_path,
                                                                              monkeypatch, qtbot):
    """Not only OSError: whatever a save raises becomes a dialog, and Close -> Save that fails does not close."""
    save_as(window, recorded_dialogs, tmp_path / "odd")
    window.edits.edit_field(ids(window)[0], "prompt", "unsaved work")

    def odd(*_args):
        raise UnicodeEncodeError("utf-8", "\ud83d", 0, 1, "surrogates not allowed")

    monkeypatch.setattr("storymem_engine.project.atomic_write_text", odd)
    assert not window.files.save()
    assert "UnicodeEncodeError" in recorded_dialogs.texts("error")[0]
    assert not window.files.autosave()
    window.show()
    recorded_dialogs.save_discard_cancel.append("save")
    assert not window.close()  # the save failed: the window stays, with the edit
    assert window.isVisible() and prompts(window)[0] == "unsaved work"
    window.undo_stack.setClean()


def test_a_failed_save_as_removes_its_partial_copy_and_names_the_file(window, recorded_dialogs, tmp_path,
                                                                      monkeypatch):
    first = save_as(window, recorded_dialogs, tmp_path / "first")
    add_take(window.project, 0)
    window.files.save()
    target = tmp_path / "second.storymem"

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device", str(target / PROJECT_FILE))

    monkeypatch.setattr("storymem_engine.project.atomic_write_text", full)
    recorded_dialogs.paths.append(str(target))
    assert not window.files.save_as()
    text = recorded_dialogs.texts("error")[-1]
    assert "No space left on device" in text and str(target / PROJECT_FILE) in text and "[" not in text
    assert "partial copy was removed" in text and not target.exists()
    assert window.project_path == first


def test_a_project_file_made_read_only_is_never_replaced_by_a_save(window, recorded_dialogs, tmp_path):
    folder = save_as(window, recorded_dialogs, tmp_path / "Protected")
    assert window.statusBar().currentMessage().startswith("Saved ")
    saved = (folder / PROJECT_FILE).read_bytes()
    (folder / PROJECT_FILE).chmod(0o444)
    window.edits.edit_field(ids(window)[0], "prompt", "an edit the protected file must not take")
    assert not window.files.save()
    assert recorded_dialogs.texts("error")[-1].endswith(
        f"{folder / PROJECT_FILE} is read-only: make it writable again, or save the project elsewhere (File > Save "
        "As)\n\nThe previous saved version is unchanged.")
    assert (folder / PROJECT_FILE).read_bytes() == saved and (folder / PROJECT_FILE).stat().st_mode & 0o777 == 0o444
    assert not window.statusBar().currentMessage().startswith("Saved ")  # the earlier save's words are gone
    assert window.files.is_modified()
    (folder / PROJECT_FILE).chmod(0o644)
    assert window.files.save()


def test_copy_errors_read_as_a_sentence_not_a_python_list():
    import shutil

    from storyboard.file_controller import describe_error

    error = shutil.Error([("a/clip.mp4", "b/clip.mp4", "[Errno 28] No space left on device"),
                          ("a/k.png", "b/k.png", "[Errno 28] No space left on device")])
    text = describe_error(error)
    assert text == "could not copy b/clip.mp4: [Errno 28] No space left on device (and 1 more)"


def test_a_new_project_is_ready_to_type_its_first_shot_and_counts_in_the_singular(window, qtbot):
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    assert window.files.new_project()
    # No click needed: typing goes into shot 1's prompt.
    QTest.keyClicks(QApplication.focusWidget(), "A kite over the dunes")
    assert window.project.story.shots[0].prompt == "A kite over the dunes"
    qtbot.waitUntil(lambda: window.shot_count_label.text().startswith(
        "1 shot · 1 scene · 0:05.1 · 0 accepted takes · 1 selected"))


def test_a_project_folder_or_story_dropped_from_the_file_manager_opens(window, recorded_dialogs, tmp_path, qtbot,
                                                                        story_paths):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    def drop(path: Path, on=window) -> bool:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        enter = QDragEnterEvent(on.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(on, enter)  # an ignored drag goes on to the widgets around it, as in Qt
        if not enter.isAccepted():
            return False
        QApplication.sendEvent(on, QDropEvent(QPointF(on.rect().center()), Qt.DropAction.CopyAction, mime,
                                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
        return True

    folder = save_as(window, recorded_dialogs, tmp_path / "dropped")
    saved = window.project.story.to_dict()
    window.files.new_project()
    # What File > Open takes: the project folder...
    assert drop(folder)
    qtbot.waitUntil(lambda: window.project_path == folder)
    assert window.project.story.to_dict() == saved
    # ...or a story script, imported as a new project, even dropped on the Cast tab (which takes images only).
    window.lower_tabs.setCurrentWidget(window.cast_panel)
    assert drop(story_paths["queen"], on=window.cast_panel)
    qtbot.waitUntil(lambda: window.project.story.name == "Counsel in the Throne Room")
    # Not an image (the cast panel's), a folder that is not a project, or two things at once.
    image = tmp_path / "face.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert not drop(image) and not drop(tmp_path)
    assert recorded_dialogs.messages == []


def test_a_project_open_in_another_window_is_not_opened_twice(window, recorded_dialogs, tmp_path, qtbot):
    """Two windows saving one project would each overwrite the other's saved edits without a word."""
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow

    folder = save_as(window, recorded_dialogs, tmp_path / "shared")
    other = MainWindow(AppSettings())
    qtbot.addWidget(other)
    assert not other.files.open_path(folder)
    assert recorded_dialogs.texts("error") == [
        f"{folder} is open in another StoryMem Studio window: edit it there. Two windows saving one project would "
        "each overwrite the other's changes."]
    assert window.files.open_path(folder)  # reopened in the window that has it: fine
    assert window.files.new_project()  # left: the other window may open it now
    assert other.files.open_path(folder) and other.project_path == folder
    other.undo_stack.setClean()


def test_save_as_never_replaces_a_project_open_in_another_window_and_names_what_a_replace_loses(
        window, recorded_dialogs, tmp_path, qtbot):
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow

    folder = save_as(window, recorded_dialogs, tmp_path / "Theirs")
    name, shots = window.project.story.name, len(window.project.story.shots)
    other = MainWindow(AppSettings())
    qtbot.addWidget(other)
    other.files.new_project()
    recorded_dialogs.paths.append(str(folder))
    assert not other.files.save_as()
    assert recorded_dialogs.texts("error")[-1] == (
        f"{folder} is open in another StoryMem Studio window: saving over it there would lose the changes of one of "
        "you. Choose another name.")
    assert load_project(folder).story.shots[0].prompt == window.project.story.shots[0].prompt
    assert window.files.new_project()  # closed there: a replace may be asked now, in numbers
    recorded_dialogs.paths.append(str(folder))
    recorded_dialogs.yes_no.append(False)
    assert not other.files.save_as()
    assert recorded_dialogs.questions[-1].startswith(
        f"{folder} already holds the project “{name}” ({shots} shots, 0 takes). Replace it with "
        "this one? Its story is then only in project.backup.json")
    other.undo_stack.setClean()


def test_a_folder_moved_while_open_is_not_made_again_by_a_save(window, recorded_dialogs, tmp_path):
    folder = save_as(window, recorded_dialogs, tmp_path / "Move")
    window.edits.edit_field(ids(window)[0], "prompt", "edited after the move")
    folder.rename(tmp_path / "Moved.storymem")
    assert not window.files.autosave()
    assert window.statusBar().currentMessage().startswith(
        f"Autosave stopped: the project folder {folder} is not there any more (moved, renamed or deleted while open).")
    window.actions_by_name["save"].trigger()
    assert recorded_dialogs.texts("error")[-1].startswith(f"Could not save: the project folder {folder} is not there")
    assert not folder.exists()  # neither made again nor left holding an autosave without the takes
    assert save_as(window, recorded_dialogs, tmp_path / "Rescued") == tmp_path / "Rescued.storymem"
    assert load_project(tmp_path / "Rescued.storymem").story.shots[0].prompt == "edited after the move"


def test_a_project_closed_in_one_window_opens_in_another(window, recorded_dialogs, tmp_path, qtbot):
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow

    recorded_dialogs.paths.append(str(tmp_path / "Shared"))
    assert window.files.save_as()
    folder = window.project_path
    second = MainWindow(AppSettings())
    qtbot.addWidget(second)
    assert not second.files.open_project(folder)  # open in the first window
    assert window.close()
    assert second.files.open_project(folder)  # its lock went with the window, not with the process


def test_save_as_copies_a_big_project_with_progress_and_cancel_leaves_no_half_copy(window, recorded_dialogs,
                                                                                   tmp_path, monkeypatch):
    """A long story's takes are gigabytes: the window froze until all were copied, with no way out."""
    from PySide6.QtWidgets import QProgressDialog

    from storyboard import media_copy

    recorded_dialogs.paths.append(str(tmp_path / "First"))
    assert window.files.save_as()
    add_take(window.project, 0)
    add_take(window.project, 1)
    assert window.files.save()
    monkeypatch.setattr(media_copy, "QUIET_BYTES", 0)  # these takes are small: as if they were not
    shown = []
    monkeypatch.setattr(QProgressDialog, "setValue", lambda self, v: shown.append((self.labelText(), v)))
    monkeypatch.setattr(QProgressDialog, "wasCanceled", lambda self: len(shown) >= 1)  # Cancel after one file
    recorded_dialogs.paths.append(str(tmp_path / "Second"))
    assert not window.files.save_as()
    assert shown[0][0].startswith("Copying the takes and images to Second.storymem")
    assert not (tmp_path / "Second.storymem").exists()  # no half copy left behind
    assert window.project_path == tmp_path / "First.storymem"
    assert window.statusBar().currentMessage().startswith(f"Save As cancelled: the project is still {tmp_path}")
    monkeypatch.setattr(QProgressDialog, "wasCanceled", lambda self: False)
    recorded_dialogs.paths.append(str(tmp_path / "Second"))
    assert window.files.save_as()
    copy = tmp_path / "Second.storymem"
    assert all((copy / t.clip).is_file() for s in window.project.story.shots for t in s.takes)


def test_a_script_that_cannot_be_imported_asks_nothing_about_the_open_changes(window, recorded_dialogs, tmp_path,
                                                                              story_paths):
    """It asked "Save the changes…?" first, then said the script could not be read and closed nothing."""
    window.edits.edit_field(window.project.story.shots[0].id, "notes", "mine")
    broken = tmp_path / "broken.json"
    script = next(iter(story_paths.values()))
    broken.write_text(script.read_text()[:200])  # cut off part way
    recorded_dialogs.paths.append(str(broken))
    assert not window.files.import_story()
    assert recorded_dialogs.questions == [] and recorded_dialogs.messages[-1][1] == "Cannot import story"
    assert window.project.story.shots[0].notes == "mine" and window.isWindowModified()
    recorded_dialogs.paths.append(str(script))
    recorded_dialogs.save_discard_cancel.append("cancel")  # a readable one asks, and Cancel keeps the story open
    assert not window.files.import_story()
    assert "Save the changes" in recorded_dialogs.questions[-1] and window.project.story.shots[0].notes == "mine"


def test_a_new_story_takes_the_name_it_is_saved_under_and_can_be_renamed_with_undo(window, recorded_dialogs,
                                                                                    tmp_path, monkeypatch):
    """File > New then Save As "Lighthouse Keeper": the title bar said so, but project.json, the PDF and the
    timelines said "Untitled story" for good, and nothing could change it."""
    from pypdf import PdfReader

    from storyboard.pdf_storyboard import PdfOptions
    from storyboard.story_details_dialog import StoryDetailsDialog

    assert window.files.new_project()
    recorded_dialogs.paths.append(str(tmp_path / "Lighthouse Keeper.storymem"))
    assert window.files.save_as()
    saved = json.loads((tmp_path / "Lighthouse Keeper.storymem" / "project.json").read_text())
    assert saved["story"]["name"] == "Lighthouse Keeper"

    def fill(dialog):
        assert dialog.name.text() == "Lighthouse Keeper"
        dialog.name.setText("  The   Keeper's Kite ")
        dialog.overview.setPlainText("Mara mends a kite.")
        return 1

    monkeypatch.setattr(StoryDetailsDialog, "exec", fill)
    window.actions_by_name["story_details"].trigger()
    story = window.project.story
    assert (story.name, story.overview) == ("The Keeper's Kite", "Mara mends a kite.")
    assert window.undo_stack.undoText() == "Rename the story “The Keeper's Kite”" and window.isWindowModified()
    assert window.exports.export_pdf(tmp_path / "board.pdf", PdfOptions())
    title_page = " ".join(PdfReader(str(tmp_path / "board.pdf")).pages[0].extract_text().split())
    assert "The Keeper's Kite 1 shot in 1 scene" in title_page and "Mara mends a kite." in title_page
    window.undo_stack.undo()
    assert (story.name, story.overview) == ("Lighthouse Keeper", "")
    # A story named by the user keeps its name when saved under another.
    window.undo_stack.redo()
    recorded_dialogs.paths.append(str(tmp_path / "copy.storymem"))
    assert window.files.save_as()
    assert json.loads((tmp_path / "copy.storymem" / "project.json").read_text())["story"]["name"] == \
        "The Keeper's Kite"


def test_a_project_reopens_on_the_shot_it_was_left_on(window, recorded_dialogs, tmp_path):
    """Reopened, a project always showed shot 1: a long story's review started over from the top."""
    recorded_dialogs.paths.append(str(tmp_path / "left.storymem"))
    assert window.files.save_as()
    folder = window.project_path
    shots = window.project.story.shots
    window.edits.select_shots([shots[4].id])
    assert window.files.new_project()
    assert window.current_row() == 0
    assert window.files.open_project(folder)
    assert window.current_row() == 4 and window.inspector.prompt.toPlainText() == shots[4].prompt
    # A shot deleted meanwhile (by the command line, another copy): shot 1, as before.
    from storyboard import last_shot

    last_shot.remember(folder, "gone")
    assert window.files.open_project(folder)
    assert window.current_row() == 0
