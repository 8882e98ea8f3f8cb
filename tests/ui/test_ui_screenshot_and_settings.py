"""Screenshot mode (`main.py --screenshot`) and the settings dialog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from storyboard.app_settings import AppSettings
from storyboard.settings_dialog import SettingsDialog, check_models_folder

ROOT = Path(__file__).resolve().parents[2]


def run_app(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "HOME": str(tmp_path)}
    code = "import sys; from storyboard.app import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_screenshot_mode_writes_a_png_and_exits_zero(tmp_path):
    out = tmp_path / "shots" / "window.png"
    result = run_app("--screenshot", str(out), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 1000 and image.height() >= 600


def test_screenshot_of_a_bad_project_reports_and_fails(tmp_path):
    broken = tmp_path / "broken.storymem"
    broken.mkdir()
    (broken / "project.json").write_text("[]")
    result = run_app("--screenshot", str(tmp_path / "w.png"), str(broken), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "expected a JSON object" in result.stderr


def test_settings_round_trip_through_qsettings(qtbot):
    settings = AppSettings()
    assert (settings.memory_size, settings.memory_sink, settings.default_frames, settings.default_steps,
            settings.default_guidance, settings.size) == (10, 3, 81, 40, 3.5, (832, 480))
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.offload.setCurrentText("group_offload")
    dialog.memory_size.setValue(8)
    dialog.memory_sink.setValue(2)
    dialog.default_size.setCurrentText("1280x720")
    dialog.default_steps.setValue(30)
    dialog.values().save()
    loaded = AppSettings.load()
    assert (loaded.offload, loaded.memory_size, loaded.memory_sink, loaded.size, loaded.default_steps) == (
        "group_offload", 8, 2, (1280, 720), 30)


def test_models_folder_check_lists_missing_files(qtbot, tmp_path):
    dialog = SettingsDialog(AppSettings(models_folder=str(tmp_path)))
    qtbot.addWidget(dialog)
    message = dialog.run_check()
    assert str(tmp_path) in message and "missing" in message
    assert "model_index.json" in message  # names exactly which files
    assert dialog.check_result.toPlainText() == message
    assert check_models_folder("") == "No models folder set."


def test_models_check_without_the_engine_module_is_clear(monkeypatch):
    monkeypatch.setitem(sys.modules, "storymem_engine.models", None)  # import fails
    assert "not available" in check_models_folder("/models")
