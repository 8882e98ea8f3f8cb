"""UI test setup: offscreen Qt, isolated QSettings, dialogs that record instead of blocking, the tiny engine."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import; the Xvfb test uses a subprocess

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QStandardPaths  # noqa: E402

from storyboard import dialogs  # noqa: E402


@dataclass
class DialogRecorder:
    """Stands in for storyboard.dialogs: records messages, answers questions from queues."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, title, text)
    yes_no: list[bool] = field(default_factory=list)
    save_discard_cancel: list[str] = field(default_factory=list)
    paths: list[str | None] = field(default_factory=list)
    choices: list[str | None] = field(default_factory=list)  # answers to dialogs.choose (a key, None = Cancel)
    file_lists: list[list[str]] = field(default_factory=list)  # answers to dialogs.open_files
    questions: list[str] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [m[0] for m in self.messages]

    def texts(self, kind: str) -> list[str]:
        return [m[2] for m in self.messages if m[0] == kind]

    def _path(self) -> str | None:
        return self.paths.pop(0) if self.paths else None


@pytest.fixture(autouse=True)
def recorded_dialogs(monkeypatch) -> DialogRecorder:
    rec = DialogRecorder()
    for kind in ("error", "warning", "info"):
        monkeypatch.setattr(dialogs, kind, lambda _p, title, text, _k=kind: rec.messages.append((_k, title, text)))

    def ask_yes_no(_p, title, text, default=False):
        rec.questions.append(text)
        return rec.yes_no.pop(0) if rec.yes_no else default

    def ask_sdc(_p, text):
        rec.questions.append(text)
        return rec.save_discard_cancel.pop(0) if rec.save_discard_cancel else "discard"

    def choose(_p, title, text, options, cancel_label=""):
        rec.questions.append(text)
        return rec.choices.pop(0) if rec.choices else None

    monkeypatch.setattr(dialogs, "ask_yes_no", ask_yes_no)
    monkeypatch.setattr(dialogs, "choose", choose)
    monkeypatch.setattr(dialogs, "ask_save_discard_cancel", ask_sdc)
    for name in ("open_file", "save_file", "choose_folder"):
        monkeypatch.setattr(dialogs, name, lambda *_a, **_k: rec._path())
    monkeypatch.setattr(dialogs, "open_files", lambda *_a, **_k: rec.file_lists.pop(0) if rec.file_lists else [])
    return rec


@pytest.fixture(autouse=True)
def clipboard_released(qapp):
    """Copied shots leave the clipboard after each test, as when the app quits: the offscreen clipboard still
    owning them at exit crashed the test run's exit (status 139)."""
    yield
    from storyboard.shot_clipboard import keep_text_only

    keep_text_only()


@pytest.fixture(autouse=True)
def isolated_settings(qapp, tmp_path_factory):
    folder = tmp_path_factory.mktemp("qsettings")
    qapp.setOrganizationName("StoryMemTests")
    qapp.setApplicationName("StoryMem Studio Tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings().clear()
    yield folder


@pytest.fixture
def window(qtbot):
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow

    win = MainWindow(AppSettings())
    qtbot.addWidget(win)
    assert win.files.open_sample()
    yield win
    win.undo_stack.setClean()  # teardown closes without asking


# ---------------------------------------------------------------- generation on the tiny engine

GEN_PROMPTS = ("a lighthouse at dusk", "waves hit the rocks", "a gull lands on the rail")


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    from storymem_engine.tiny import TINY_VERSION, ensure_tiny_models

    cache = tmp_path_factory.mktemp("cache")
    ensure_tiny_models(cache / TINY_VERSION)  # where the engine looks with STORYMEM_CACHE set
    return cache


@pytest.fixture
def gen_prompts() -> tuple[str, ...]:
    """The shots of ``gen_window``'s story (the first one a cut); a test module may override it."""
    return GEN_PROMPTS


@pytest.fixture
def gen_window(window, tiny_cache, gen_prompts, monkeypatch, tmp_path, recorded_dialogs):
    """A window set to the tiny engine (64x48, 9 frames, 2 steps) on a story of ``gen_prompts`` saved as
    ``gen.storymem`` in tmp_path."""
    from storymem_engine.project import Project
    from storymem_engine.story import Shot, Story

    monkeypatch.setenv("STORYMEM_CACHE", str(tiny_cache))
    QStandardPaths.setTestModeEnabled(True)
    s = window.settings
    s.engine, s.default_size, s.default_frames, s.default_steps = "tiny", "64x48", 9, 2
    story = Story(name="Gen", shots=[Shot(prompt=p, cut=i == 0, scene_num=1) for i, p in enumerate(gen_prompts)])
    window.set_project(Project(folder=Path(), story=story), None)
    recorded_dialogs.paths.append(str(tmp_path / "gen.storymem"))
    assert window.files.save_as()
    yield window
    window.generation.stop()
    QStandardPaths.setTestModeEnabled(False)
