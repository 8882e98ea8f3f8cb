"""Drag a timeline card with a real mouse gesture under Xvfb (offscreen cannot run a drag loop)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.mark.skipif(shutil.which("xvfb-run") is None,
                    reason="xvfb-run is not installed (apt-get install xvfb xauth and Qt's xcb libraries)")
def test_real_mouse_drag_reorders_the_timeline(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, str(HERE / "drag_gesture_script.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(lines[-1])
    before = outcome["before"]
    assert outcome["after"] == before[1:4] + [before[0]] + before[4:]
    assert outcome["undone"] == before
