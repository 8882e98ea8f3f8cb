"""bench/export_formats_bench.py stays runnable: a small project through every format, cards included."""

import os
import subprocess
import sys

from conftest import ROOT


def test_export_formats_bench_quick():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "export_formats_bench.py"), "--shots", "12",
                             "--cards"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:-1]]
    assert rows == ["csv", "otio", "fcp7", "fcpx", "edl", "pdf", "mp4", "otio+cards", "fcp7+cards", "fcpx+cards",
                    "edl+cards"]
    assert "(6 clips, 6 gaps, 0 cards)" in result.stdout and "(6 clips, 0 gaps, 6 cards" in result.stdout
    assert "project: 12 shots, 6 takes" in result.stdout
