"""Render settings belong to the project: the CLI's settings are the app's, and the other way round."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from storymem_engine.project import Project, load_project
from storymem_engine.render_settings import RenderSettings
from storymem_engine.story import Shot, Story

WAIT_MS = 60_000


def _saved_project(folder: Path, settings: RenderSettings | None) -> Path:
    story = Story(name="Kept", shots=[Shot(prompt="a red kite over dunes", cut=True, scene_num=1)])
    Project(folder=folder, story=story, settings=settings).save()
    return folder


def test_a_project_rendered_by_the_cli_regenerates_at_its_own_settings(window, tiny_cache, monkeypatch, tmp_path,
                                                                        qtbot):
    monkeypatch.setenv("STORYMEM_CACHE", str(tiny_cache))
    QStandardPaths.setTestModeEnabled(True)
    try:
        window.settings.engine = "tiny"  # preferences at the production defaults: 832x480, 81 frames, 40 steps
        folder = _saved_project(tmp_path / "cli.storymem",
                                RenderSettings(width=128, height=64, frames=9, steps=3, guidance=2.0, seed=7))
        assert window.files.open_project(folder)
        assert window.generation.generate_shot()
        assert "128x64, 9 frames, 3 steps" in window.statusBar().currentMessage()
        qtbot.waitUntil(lambda: not window.generation.busy, timeout=WAIT_MS)
        take = window.project.story.shots[0].accepted()
        r = take.request
        assert (r["width"], r["height"], r["num_frames"], r["steps"], r["guidance"], r["seed"]) == (
            128, 64, 9, 3, 2.0, 7)
        # The app kept the project's settings in the file (the CLI reads them back the same way).
        assert load_project(folder).settings == RenderSettings(width=128, height=64, frames=9, steps=3,
                                                               guidance=2.0, seed=7)
    finally:
        window.generation.stop()
        QStandardPaths.setTestModeEnabled(False)


def test_render_settings_dialog_changes_the_project_undoably_and_new_projects_take_the_preferences(
        window, qtbot, tmp_path, monkeypatch, recorded_dialogs):
    from storyboard.render_settings_dialog import RenderSettingsDialog

    folder = _saved_project(tmp_path / "p.storymem", None)  # saved before projects kept settings
    window.settings.default_steps = 30
    assert window.files.open_project(folder)
    assert window.render_settings().steps == 30  # an old project takes the preferences' defaults
    seen = []

    def run_dialog(dialog):
        seen.append(dialog)
        dialog.form.size.setCurrentText("100x60")
        dialog.form.frames.setValue(20)
        dialog.form.memory_size.setValue(6)
        dialog.accept()  # corrected, stays open
        assert "100x60 -> 96x64" in dialog.problems.text() and "frames 20 -> 21" in dialog.problems.text()
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(RenderSettingsDialog, "exec", run_dialog)
    window.open_render_settings()
    assert seen and window.render_settings().size == (96, 64) and window.render_settings().frames == 21
    assert window.model.memory_size == 6  # the timeline's stale marks follow the project's memory size
    assert window.isWindowModified()
    assert window.files.save()
    saved = json.loads((folder / "project.json").read_text())["settings"]
    assert (saved["width"], saved["height"], saved["frames"], saved["memory_size"], saved["steps"]) == (
        96, 64, 21, 6, 30)
    window.undo_stack.undo()
    assert window.render_settings().size == (832, 480) and window.model.memory_size == 10
    window.undo_stack.redo()
    assert window.render_settings().frames == 21
    # A new project starts from the preferences, not from the project that was open.
    window.undo_stack.setClean()
    assert window.files.new_project()
    assert window.render_settings() == window.settings.render_defaults()
    assert window.render_settings().steps == 30 and window.render_settings().size == (832, 480)


def test_preferences_seed_a_new_project_and_corrupt_ones_fall_back_to_the_method(qtbot):
    from dataclasses import fields

    from PySide6.QtCore import QSettings

    from storyboard.app_settings import RENDER_PREFERENCES, AppSettings
    from storyboard.settings_dialog import SettingsDialog

    # Every render setting has a preference for new projects (a field added later cannot be forgotten).
    assert {*RENDER_PREFERENCES, "width", "height"} == {f.name for f in fields(RenderSettings)}

    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.defaults.seed.setValue(42)
    dialog.defaults.steps.setValue(12)
    dialog.values().save()
    assert AppSettings.load().render_defaults() == RenderSettings(seed=42, steps=12)
    store = QSettings()
    store.setValue("settings/default_size", "wide")
    store.setValue("settings/default_seed", -4)
    store.sync()
    assert AppSettings.load().render_defaults() == RenderSettings()  # a window that opens, at the method's values
