"""Settings > GPUs: the GPUs this machine has, and where `render --gpus N` splits shots across them."""

from __future__ import annotations

from storyboard.app_settings import AppSettings
from storyboard.settings_dialog import SettingsDialog
from storymem_engine.multi_gpu import gpu_note, visible_gpu_count


def test_settings_say_how_many_gpus_were_found(qtbot):
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    assert dialog.gpu_note.text() == gpu_note(visible_gpu_count())
    assert "GPU" in dialog.gpu_note.text()
