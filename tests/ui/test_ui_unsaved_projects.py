"""A never-saved project lives in the app's own folder: Generate works at once, Save As moves it, a crash does not
lose it, Discard removes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QStandardPaths

from storyboard.unsaved_projects import is_unsaved, unsaved_root

WAIT_MS = 60_000


@pytest.fixture
def app_folder(window, tiny_cache, monkeypatch):
    """The tiny engine, and an empty app data folder (QStandardPaths' test mode)."""
    monkeypatch.setenv("STORYMEM_CACHE", str(tiny_cache))
    QStandardPaths.setTestModeEnabled(True)
    shutil.rmtree(unsaved_root(), ignore_errors=True)
    window.settings.engine = "tiny"
    yield unsaved_root()
    window.generation.stop()
    shutil.rmtree(unsaved_root(), ignore_errors=True)
    QStandardPaths.setTestModeEnabled(False)


def _generate_first_shot(window, qtbot) -> None:
    window.edits.select_shots([window.project.story.shots[0].id])
    assert window.generation.generate_shot()
    qtbot.waitUntil(lambda: not window.generation.busy, timeout=WAIT_MS)
    assert window.project.story.shots[0].accepted() is not None


def test_first_generate_of_a_new_project_asks_nothing_and_save_as_moves_it(window, app_folder, qtbot, tmp_path,
                                                                          recorded_dialogs):
    _generate_first_shot(window, qtbot)
    assert recorded_dialogs.questions == [] and recorded_dialogs.messages == []  # no "save first", no file dialog
    unsaved = window.project_path
    assert is_unsaved(unsaved) and unsaved.parent == app_folder
    take = window.project.story.shots[0].accepted()
    assert (unsaved / take.clip).is_file()
    assert "(not saved yet)" in window.windowTitle() and window.files.is_modified()

    # Save is Save As for it; the takes move along and the app's copy goes.
    recorded_dialogs.paths.append(str(tmp_path / "mine"))
    assert window.files.save()
    mine = tmp_path / "mine.storymem"
    assert window.project_path == mine and (mine / take.clip).is_file() and (mine / "project.json").is_file()
    assert not unsaved.exists()
    assert "(not saved yet)" not in window.windowTitle() and not window.files.is_modified()


def test_an_unsaved_project_left_by_a_crash_is_offered_back(window, app_folder, qtbot, recorded_dialogs):
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow

    _generate_first_shot(window, qtbot)
    window.edits.edit_field(window.project.story.shots[1].id, "prompt", "the edit made before the crash")
    assert window.files.autosave()
    folder = window.project_path
    # A crash: the process dies holding nothing (the OS frees the open lock), the folder stays.
    window.files.hold(None)
    window.project_path = None  # this window is gone as far as the folder knows

    second = MainWindow(AppSettings(engine="tiny"))
    qtbot.addWidget(second)
    recorded_dialogs.choices.append(None)  # Later: kept, and asked again at the next start
    assert not second.files.offer_left_behind() and folder.is_dir()
    recorded_dialogs.choices.append("reopen")
    assert second.files.offer_left_behind()
    assert "was not saved when StoryMem Studio last closed" in recorded_dialogs.questions[-1]
    assert "(6 shots, 1 take, last changed " in recorded_dialogs.questions[-1]
    assert second.project_path == folder and "(not saved yet)" in second.windowTitle()
    assert second.project.story.shots[1].prompt == "the edit made before the crash"
    assert second.project.story.shots[0].accepted() is not None
    # While it is open here, a third window is not offered it.
    third = MainWindow(AppSettings(engine="tiny"))
    qtbot.addWidget(third)
    assert not third.files.offer_left_behind()

    # Discarding it on close removes it and its takes (the question said so).
    recorded_dialogs.save_discard_cancel.append("discard")
    assert second.files.maybe_save()
    assert "would be deleted" in recorded_dialogs.questions[-1]
    assert not folder.exists()


def test_delete_in_the_offer_deletes_the_left_behind_project(window, app_folder, recorded_dialogs, qtbot):
    window.edits.edit_field(window.project.story.shots[0].id, "prompt", "a draft nobody wants")
    assert window.files.autosave()  # a never-saved project's first autosave places it in the app's folder
    folder = Path(window.project_path)
    assert is_unsaved(folder) and (folder / "project.json").is_file()
    window.files.hold(None)
    window.project_path = None
    recorded_dialogs.choices.append("delete")
    assert not window.files.offer_left_behind()
    assert not folder.exists()


def test_a_saved_project_with_changes_only_in_its_autosave_is_offered_at_start(window, app_folder, qtbot,
                                                                               recorded_dialogs, tmp_path):
    """A crash with a saved project open: the next start offers its autosaved changes, not the sample alone."""
    import os

    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow
    from storymem_engine.project import AUTOSAVE_FILE, PROJECT_FILE

    recorded_dialogs.paths.append(str(tmp_path / "Crash"))
    assert window.files.save_as()
    folder = window.project_path
    window.edits.edit_field(window.project.story.shots[1].id, "prompt", "the edit made before the crash")
    assert window.files.autosave()
    saved_at = (folder / PROJECT_FILE).stat().st_mtime
    os.utime(folder / AUTOSAVE_FILE, (saved_at + 5, saved_at + 5))
    # A crash: the process dies holding nothing (the OS frees the open lock).
    window.files.hold(None)
    window.project_path = None

    second = MainWindow(AppSettings(engine="tiny"))
    qtbot.addWidget(second)
    recorded_dialogs.yes_no.append(True)
    assert second.files.offer_left_behind()
    assert recorded_dialogs.questions[-1].startswith(f"{folder} has changes autosaved at ")
    assert second.project_path == folder and second.isWindowModified()
    assert second.project.story.shots[1].prompt == "the edit made before the crash"
    # Discarded on close: gone for good, so the next start offers nothing.
    recorded_dialogs.save_discard_cancel.append("discard")
    assert second.files.maybe_save()
    assert not (folder / AUTOSAVE_FILE).exists()
    second.files.hold(None)
    third = MainWindow(AppSettings(engine="tiny"))
    qtbot.addWidget(third)
    asked = len(recorded_dialogs.questions)
    assert not third.files.offer_left_behind() and len(recorded_dialogs.questions) == asked


def test_started_with_a_project_the_crash_left_one_is_said_and_in_open_recent(window, app_folder, recorded_dialogs,
                                                                              qtbot, tmp_path):
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow
    from storyboard.menus import fill_recent_menu

    window.project.story.name = "Lighthouse keeper"
    window.edits.edit_field(window.project.story.shots[0].id, "prompt", "the draft left by the crash")
    assert window.files.autosave()
    folder = Path(window.project_path)
    window.files.hold(None)  # a crash: the OS frees the open lock, the folder stays
    window.project_path = None
    recorded_dialogs.paths.append(str(tmp_path / "Other"))
    assert window.files.save_as()  # some other project, saved: the one double-clicked later
    other = window.project_path
    window.files.hold(None)

    second = MainWindow(AppSettings(engine="tiny"))
    qtbot.addWidget(second)
    second.files.open_at_start(other)  # `main.py <project>`: that project opens, nothing is asked in its place
    assert second.project_path == other and recorded_dialogs.choices == []
    assert ("“Lighthouse keeper”, not saved when StoryMem Studio last closed, is kept: File > Open recent reopens it"
            == second.statusBar().currentMessage())
    fill_recent_menu(second)
    entry = second.recent_menu.actions()[0]
    assert entry.text().startswith("“Lighthouse keeper”  (not saved")
    assert "the draft left by the crash" in entry.toolTip()
    entry.trigger()
    assert second.project_path == folder and second.project.story.shots[0].prompt == "the draft left by the crash"
    fill_recent_menu(second)  # open here now: no longer listed as left behind
    assert not second.recent_menu.actions()[0].text().startswith("“Lighthouse keeper”")


def test_a_project_that_cannot_be_opened_at_start_says_why_and_the_sample_opens(window, app_folder, recorded_dialogs,
                                                                               tmp_path):
    gone = tmp_path / "Gone.storymem"
    window.files.open_at_start(gone)
    assert recorded_dialogs.messages[-1][1] == "Cannot open project"
    assert window.project.story.shots and window.project_path is None  # the sample, not an empty window
