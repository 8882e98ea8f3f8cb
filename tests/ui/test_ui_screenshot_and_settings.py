"""Screenshot mode (`main.py --screenshot`) and the settings dialog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

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
    assert "This plugin does not support" not in result.stderr  # the offscreen platform's notes: not the user's
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 1000 and image.height() >= 600


def test_screenshot_of_a_bad_project_reports_and_fails(tmp_path):
    broken = tmp_path / "broken.storymem"
    broken.mkdir()
    (broken / "project.json").write_text("[]")
    result = run_app("--screenshot", str(tmp_path / "w.png"), str(broken), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "expected a JSON object" in result.stderr


def test_screenshot_of_a_project_with_takes_waits_for_the_thumbnails(tmp_path):
    """The cards' thumbnails decode off the UI thread: the screenshot waits for them instead of showing prompts."""
    import shutil

    import numpy as np

    from storymem_engine.project import Project
    from storymem_engine.story import Shot, Story, Take
    from storymem_engine.video import write_video

    folder = tmp_path / "green.storymem"
    story = Story(name="Green", shots=[Shot(prompt=f"shot {i}", cut=i == 0, scene_num=1) for i in range(12)])
    first = tmp_path / "green.mp4"
    frames = np.zeros((81, 480, 832, 3), dtype=np.uint8)
    frames[..., 1] = 255  # pure green: no other part of the window is
    write_video(first, frames, fps=16)
    for shot in story.shots:  # a real story's size: twelve 5 s clips at 832x480
        clip = f"takes/{shot.id}/t1/clip.mp4"
        (folder / clip).parent.mkdir(parents=True)
        shutil.copyfile(first, folder / clip)
        shot.takes = [Take(id="t1", request={}, clip=clip, frames=81)]
        shot.accepted_take = "t1"
    Project(folder=folder, story=story).save()
    out = tmp_path / "cards.png"
    result = run_app("--screenshot", str(out), str(folder), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    image = QImage(str(out)).convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())[:, :width * 3]
    timeline = pixels[int(height * 0.7):].reshape(-1, 3).astype(int)  # the timeline strip is at the bottom
    green = (timeline[:, 1] > 200) & (timeline[:, 0] < 80) & (timeline[:, 2] < 80)
    assert green.sum() > 4 * 1500, f"only {green.sum()} green pixels: the cards show no thumbnails"


def test_settings_round_trip_through_qsettings(qtbot):
    settings = AppSettings()
    assert (settings.memory_size, settings.memory_sink, settings.default_frames, settings.default_steps,
            settings.default_guidance, settings.size) == (10, 3, 81, 40, 3.5, (832, 480))
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.defaults.offload.setCurrentText("group_offload")
    dialog.defaults.memory_size.setValue(8)
    dialog.defaults.memory_sink.setValue(2)
    dialog.defaults.size.setCurrentText("1280x720")
    dialog.defaults.steps.setValue(30)
    dialog.values().save()
    loaded = AppSettings.load()
    assert (loaded.offload, loaded.memory_size, loaded.memory_sink, loaded.size, loaded.default_steps) == (
        "group_offload", 8, 2, (1280, 720), 30)


def test_models_folder_check_lists_missing_files(qtbot, tmp_path, monkeypatch):
    dialog = SettingsDialog(AppSettings(models_folder=str(tmp_path)))
    qtbot.addWidget(dialog)
    message = dialog.run_check()
    assert str(tmp_path) in message and "missing" in message
    assert "model_index.json" in message  # names exactly which files
    assert dialog.check_result.toPlainText() == message
    assert check_models_folder("") == "No models folder set."
    # A folder that is not there says only that (not 22 "missing" files and their downloads).
    assert check_models_folder(str(tmp_path / "nowhere")) == (
        f"No such folder: {tmp_path / 'nowhere'}. Choose the folder the models were downloaded into.")
    (tmp_path / "afile.txt").write_text("x")
    assert check_models_folder(str(tmp_path / "afile.txt")) == f"{tmp_path / 'afile.txt'} is a file, not a folder."
    # "~/models" typed in the field is the home's, as a shell reads it, checked and saved so.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    assert "No such folder" not in check_models_folder("~/models")
    dialog.models_folder.setText("~/models")
    assert dialog.values().models_folder == str(tmp_path / "models")


def test_models_check_without_the_engine_module_is_clear(monkeypatch):
    monkeypatch.setitem(sys.modules, "storymem_engine.models", None)  # import fails
    assert "not available" in check_models_folder("/models")


def test_fidelity_settings_default_to_the_method_and_round_trip(qtbot):
    settings = AppSettings()
    assert (settings.keyframe_similarity, settings.seed_rule, settings.vae_tiling, settings.memory_rope_stride) == (
        "clip", "scene", False, 1)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.keyframe_similarity.currentData() == "clip" and not dialog.defaults.vae_tiling.isChecked()
    # The advanced RoPE stride explains why it is a setting at all.
    tabs = dialog.tabs
    advanced = next(tabs.widget(i) for i in range(tabs.count()) if tabs.tabText(i) == "Advanced")
    text = " ".join(label.text() for label in advanced.findChildren(QLabel))
    assert "public" in text and "stride" in text and "S = 1" in text
    dialog.keyframe_similarity.setCurrentIndex(dialog.keyframe_similarity.findData("hsv"))
    dialog.defaults.seed_rule.setCurrentIndex(dialog.defaults.seed_rule.findData("story"))
    dialog.defaults.vae_tiling.setChecked(True)
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
        dialog.defaults.offload.setCurrentText(preset)
        needs = preset_needs(preset)
        text = dialog.defaults.offload_needs.text()
        assert f"{needs.ram_gib:.1f} GiB RAM" in text and f"{needs.vram_gib:.1f} GiB VRAM" in text
        assert "this machine:" in text and "GiB of RAM" in text
    dialog.defaults.offload.setCurrentText("auto")  # what auto picks here, as one sentence: "Here: no preset fits"
    text = dialog.defaults.offload_needs.text()
    assert "Here: " in text and not text.split("Here: ")[1][:1].isupper()


def test_settings_show_the_attention_backend_and_pass_it_to_the_engine(qtbot, window):
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    assert dialog.attention.currentData() == "auto" and "Installed here:" in dialog.attention_note.text()
    dialog.attention.setCurrentIndex(dialog.attention.findData("native"))
    dialog.compile_blocks.setChecked(True)
    dialog.values().save()
    loaded = AppSettings.load()
    assert (loaded.attention_backend, loaded.compile_blocks) == ("native", True)
    window.settings = loaded
    window.settings.engine, window.settings.models_folder = "tiny", ""
    engine = window.generation._engine_settings()
    assert (engine["attention_backend"], engine["compile_blocks"]) == ("native", True)


def test_models_check_names_the_optional_draft_and_mm2v_loras(qtbot, tmp_path, tiny_models):
    dialog = SettingsDialog(AppSettings(models_folder=str(tmp_path)))
    qtbot.addWidget(dialog)
    message = dialog.run_check()
    assert "Optional, for the Draft profile" in message and "lightx2v/Wan2.2-Distill-Loras" in message
    assert "Optional, for the MM2V continuation (Generate > Render settings > Continuation)" in message
    assert 'hf download Kevin-thu/StoryMem --include "Wan2.2-MM2V-A14B/*"' in message
    # Every file there (the tiny models hold both LoRAs): nothing optional is listed for MM2V.
    assert "MM2V" not in check_models_folder(str(tiny_models))


def test_settings_fit_a_laptop_screen_in_tabs_named_as_the_messages_name_them(qtbot):
    dialog = SettingsDialog(AppSettings(engine="tiny"))
    qtbot.addWidget(dialog)
    hint = dialog.sizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint  # was 1650 px wide: one row of every setting
    tabs = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert tabs == ["Engine", "GPUs", "New projects", "Advanced"]
    dialog.show()
    qtbot.waitExposed(dialog)
    note = dialog.engine_note  # as tall as its lines at the width it got: no gap of three empty lines above it
    assert note.height() == note.heightForWidth(note.width()) < 3 * note.fontMetrics().lineSpacing()
    dialog.engine.setCurrentText("wan")  # the note is about the tiny engine: gone with it
    assert note.isHidden()
    dialog.engine.setCurrentText("tiny")
    assert not note.isHidden()
    # A corrected new-project default shows where it was corrected.
    dialog.defaults.size.setCurrentText("830x481")
    dialog.accept()
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "New projects"
    assert "Corrected to the nearest valid values" in dialog.problems.text()
