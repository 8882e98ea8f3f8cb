"""The window mid-generation and after, as the user sees it (the issue's screenshots, kept honest by a test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def test_screenshots_while_generating_and_after(tmp_path, tiny_cache):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
           "STORYMEM_CACHE": str(tiny_cache),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, str(HERE / "generation_screenshots_script.py"), str(tmp_path / "shots"),
               "--size", "64x48", "--frames", "9", "--steps", "60"]
    if shutil.which("xvfb-run"):
        env["QT_QPA_PLATFORM"] = "xcb"
        command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *command]
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["generating"][:3] == ["done", "done", "generating"] and "queued" in seen["generating"]
    assert seen["progress"] and "/60" in seen["progress"]  # the generating card shows its step
    assert seen["finished"] == ["done"] * 6
    assert seen["check_box_edge"] >= 60  # an unchecked box was a dark square on the dark panel (9 lighter)
    for name in ("generating.png", "finished.png"):
        image = QImage(str(tmp_path / "shots" / name))
        assert image.width() >= 1000 and image.height() >= 600
