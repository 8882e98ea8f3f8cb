"""The editor must open without importing torch or diffusers (they load with the worker, later)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import importlib, pkgutil, sys
import storyboard, storyboard.app
for info in pkgutil.iter_modules(storyboard.__path__):
    importlib.import_module(f"storyboard.{info.name}")
from PySide6.QtWidgets import QApplication
app = QApplication([])
from storyboard import dialogs
dialogs.set_interactive(False)
from storyboard.app_settings import AppSettings
from storyboard.main_window import MainWindow
from storyboard.settings_dialog import check_models_folder
window = MainWindow(AppSettings())
assert window.files.open_sample()
check_models_folder("/nonexistent-models")
heavy = sorted(m for m in ("torch", "diffusers", "transformers", "open_clip") if m in sys.modules)
print("HEAVY", heavy)
sys.exit(1 if heavy else 0)
"""


def test_storyboard_imports_no_torch_or_diffusers():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HEAVY []" in result.stdout
