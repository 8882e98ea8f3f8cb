"""Screenshot mode (`main.py --screenshot`) and the settings dialog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGroupBox, QLabel

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


def test_fidelity_settings_default_to_the_method_and_round_trip(qtbot):
    settings = AppSettings()
    assert (settings.keyframe_similarity, settings.seed_rule, settings.vae_tiling, settings.memory_rope_stride) == (
        "clip", "scene", False, 1)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.keyframe_similarity.currentData() == "clip" and not dialog.vae_tiling.isChecked()
    # The advanced RoPE stride explains why it is a setting at all.
    advanced = dialog.findChild(QGroupBox)
    assert advanced.title() == "Advanced"
    text = " ".join(label.text() for label in advanced.findChildren(QLabel))
    assert "public" in text and "stride" in text and "S = 1" in text
    dialog.keyframe_similarity.setCurrentIndex(dialog.keyframe_similarity.findData("hsv"))
    dialog.seed_rule.setCurrentIndex(dialog.seed_rule.findData("story"))
    dialog.vae_tiling.setChecked(True)
    dialog.rope_stride.setValue(3)
    dialog.values().save()
    loaded = AppSettings.load()
    assert (loaded.keyframe_similarity, loaded.seed_rule, loaded.vae_tiling, loaded.memory_rope_stride) == (
        "hsv", "story", True, 3)


def test_models_check_names_the_clip_weights_and_how_to_get_them(qtbot, tmp_path):
    dialog = SettingsDialog(AppSettings(models_folder=str(tmp_path)))
    qtbot.addWidget(dialog)
    message = dialog.run_check()
    assert "CLIP-ViT-B-32/open_clip_config.json" in message
    assert "CLIP-ViT-B-32/open_clip_model.safetensors" in message
    assert "hf download timm/vit_base_patch32_clip_224.openai" in message
    # With the model-free keyframe similarity chosen, CLIP is not needed.
    dialog.keyframe_similarity.setCurrentIndex(dialog.keyframe_similarity.findData("hsv"))
    assert "CLIP" not in dialog.run_check()


def test_settings_show_what_each_preset_needs_next_to_this_machine(qtbot):
    from storymem_engine.accounting import preset_needs

    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    for preset in ("model_offload", "fp8_offload"):
        dialog.offload.setCurrentText(preset)
        needs = preset_needs(preset)
        text = dialog.offload_needs.text()
        assert f"{needs.ram_gib:.1f} GiB RAM" in text and f"{needs.vram_gib:.1f} GiB VRAM" in text
        assert "this machine:" in text and "GiB of RAM" in text
