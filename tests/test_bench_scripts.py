"""The GPU benchmark script stays runnable: its --tiny mode runs the same code on a CPU."""

import subprocess
import sys

from conftest import ROOT


def test_gpu_m2v_bench_runs_every_preset_in_its_own_process_on_tiny_models():
    from storymem_engine.models import OFFLOAD_PRESETS

    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_m2v.py"), "--tiny", "--memory", "2"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [tuple(line.split()[:2]) for line in result.stdout.splitlines()[2:]]
    # One child process per preset, measuring the final shot and then (distill pair loaded) the draft shot.
    assert rows == [(p, profile) for p in OFFLOAD_PRESETS for profile in ("final", "draft")]
    assert "FAILED" not in result.stdout and "shot s" in result.stdout and "draft 4-step shot measured" in result.stdout


def _bench(script: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=timeout)


def test_engine_overhead_bench_quick(tiny_models):
    result = _bench("engine_overhead.py", "--quick", "--models", str(tiny_models))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "denoising only, median step (ms)" in out
    assert "ratio denoising only (engine/bare, median step):" in out and "ratio whole shot (engine/bare):" in out
    # Like for like: both sides made the same transformer calls and the same last output.
    assert "same transformer calls on both sides: True" in out
    assert "largest last-output difference: 0" in out


def test_export_bench_quick():
    result = _bench("export_bench.py", "--seconds", "0.5", "--runs", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "ours: write_video (PyAV)" in out and "ffmpeg CLI, rawvideo rgb24 stdin" in out
    assert "ratio ours/ffmpeg (best runs):" in out
    assert out.count("h264/yuv420p/High, 8 frames, faststart=True") == 2


def test_app_bench_quick(tiny_models, tmp_path):
    # The app's tiny engine looks for <STORYMEM_CACHE>/<TINY_VERSION>: point it at the session's tiny models.
    from storymem_engine.tiny import TINY_VERSION

    (tmp_path / TINY_VERSION).symlink_to(tiny_models, target_is_directory=True)
    result = _bench("app_bench.py", "--quick", env={"STORYMEM_CACHE": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "launch to first paint, median:" in out and "import time (PySide6 + storyboard), median:" in out
    assert "open a 60-shot project" in out and "no takes" in out and "every shot with a take" in out
    assert "drag reorder in the 60-shot timeline" in out and "insertion_row(x)" in out
    assert "UI-thread stalls while generate_all()" in out and "longest stall, cold queue:" in out
