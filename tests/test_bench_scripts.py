"""The GPU benchmark script stays runnable: its --tiny mode runs the same code on a CPU."""

import subprocess
import sys

from conftest import ROOT


def test_gpu_m2v_bench_runs_on_tiny_models():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_m2v.py"), "--tiny"], capture_output=True,
                            text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ratio M2V (M=10) / plain I2V, full_gpu" in result.stdout
    assert "s/step" in result.stdout
