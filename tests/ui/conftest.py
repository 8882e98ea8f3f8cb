"""UI test setup: offscreen Qt, isolated QSettings, dialogs that record instead of blocking."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import; the Xvfb test uses a subprocess

from dataclasses import dataclass, field  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from storyboard import dialogs  # noqa: E402


@dataclass
class DialogRecorder:
    """Stands in for storyboard.dialogs: records messages, answers questions from queues."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, title, text)
    yes_no: list[bool] = field(default_factory=list)
    save_discard_cancel: list[str] = field(default_factory=list)
    paths: list[str | None] = field(default_factory=list)
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

    monkeypatch.setattr(dialogs, "ask_yes_no", ask_yes_no)
    monkeypatch.setattr(dialogs, "ask_save_discard_cancel", ask_sdc)
    for name in ("open_file", "save_file", "choose_folder"):
        monkeypatch.setattr(dialogs, name, lambda *_a, **_k: rec._path())
    return rec


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
