"""The GPU benchmark script stays runnable: its --tiny mode runs the same code on a CPU."""

import subprocess
import sys

from conftest import ROOT
from rank_processes import rank_env, run_ranks

from storymem_engine.models import OFFLOAD_PRESETS


def test_gpu_m2v_bench_runs_every_preset_in_its_own_process_on_tiny_models():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_m2v.py"), "--tiny", "--memory", "2"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [tuple(line.split()[:2]) for line in result.stdout.splitlines()[2:-1]]
    assert result.stdout.splitlines()[-1].startswith("whole run: ")  # no budget unless asked
    # One child process per preset, measuring the final shot and then (distill pair loaded) the draft shot.
    assert rows == [(p, profile) for p in OFFLOAD_PRESETS for profile in ("final", "draft")]
    assert "FAILED" not in result.stdout and "shot s" in result.stdout and "draft 4-step shot measured" in result.stdout


def test_gpu_m2v_bench_runs_each_gpu_count_as_that_many_ranks_and_reports_the_scaling():
    # N = 2: two gloo ranks on the CPU (the engine's test-only shim), the experts split with Ulysses attention.
    result = _bench("gpu_m2v.py", "--tiny", "--gpus", "1,2", "--presets", "model_offload", "--profiles", "final",
                    "--memory", "2", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "FAILED" not in result.stdout and "Traceback" not in result.stdout
    assert "GPUs: 1, 2 (ulysses, CPU ranks on gloo: a check, not a speed figure)" in result.stdout
    assert "largest over the ranks" in result.stdout and "eff: t(1) / (N t(N))" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines()[2:-1]]
    # preset, profile, GPUs, tokens, high s, low s, swap s, shot s, eff, alloc, reserved, resident, RAM
    assert [row[:4] for row in rows] == [["model_offload", "final", "1", "60"], ["model_offload", "final", "2", "60"]]
    for row in rows:
        high, low, _swap, shot, eff = map(float, row[4:9])
        assert high > 0 and low > 0 and shot > 0 and eff > 0
        assert float(row[12]) > 0  # RAM (GPU memory is nan on the CPU)
    assert rows[0][8] == "1.00"  # N = 1 against itself; N = 2 against it (filled: a number above)

    # The experts' weights sharded too (FSDP2): full_gpu only, the other presets refused in one line.
    sharded = _bench("gpu_m2v.py", "--tiny", "--gpus", "2", "--presets", "full_gpu,model_offload", "--profiles",
                     "final", "--memory", "2", "--shard-weights", timeout=120)
    assert sharded.returncode == 0, sharded.stdout + sharded.stderr[-3000:]
    full, offload = (line.split() for line in sharded.stdout.splitlines()[2:-1])
    assert full[:4] == ["full_gpu", "final", "2", "60"] and float(full[7]) > 0
    assert offload[:3] == ["model_offload", "-", "2"]
    assert "refused: sharded weights stay on the GPUs" in " ".join(offload)


def test_gpu_m2v_bench_has_no_scaling_without_one_gpu_and_refuses_the_low_vram_presets_on_several():
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("gpu_m2v", ROOT / "bench" / "gpu_m2v.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = dict(preset="full_gpu", profile="final", gpus=2, tokens=156, high=1.0, low=1.0, swap=0.1, shot=90.0,
               alloc=40.0, reserved=42.0, resident=38.0, ram=5.0, condition=1.0, decode=2.0, built=30.0)
    assert bench.format_row(row, bench.scaling_efficiency(None, row)).split()[8] == "-"  # N = 1 not in the run
    one = dict(row, gpus=1, high=1.8, low=1.8)
    assert bench.format_row(row, bench.scaling_efficiency(one, row)).split()[8] == "0.90"
    assert bench.parse_gpus("4,1,2,2") == [1, 2, 4]
    assert set(bench.PARALLEL_PRESETS) | set(bench.PARALLEL_REFUSED) == set(OFFLOAD_PRESETS)
    # Every rank of an offload preset keeps its models in RAM: 8 copies of model_offload's need more than 500 GiB.
    assert bench.host_ram_problem("model_offload", 2, 500.0, False) == ""
    assert "8 ranks x" in bench.host_ram_problem("model_offload", 8, 500.0, False)
    assert bench.host_ram_problem("full_gpu", 8, 100.0, False) == ""  # built on the GPUs
    # A preset that runs out of time keeps what it printed: the rows measured so far and how far it got.
    slow = "print('ROW {}', flush=True); print('STAGE 41s moved to the CPU', flush=True); import time; time.sleep(60)"
    code, out, _err = bench.run_child([sys.executable, "-c", slow], dict(os.environ), timeout=3)
    assert code is None and "ROW {}" in out
    assert bench.reached(out) == "; reached: 41s moved to the CPU"
    # A failed preset's row names the rank's error, not the last line of torchrun's summary box.
    box = ("[rank1]: Traceback (most recent call last):\n[rank1]: RuntimeError: Connection closed by peer\n"
           "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n" + "=" * 60 + "\n"
           "  exitcode  : 1 (pid: 7)\n" + "=" * 60)
    assert bench.failure_line("", box) == "[rank1]: RuntimeError: Connection closed by peer"
    assert bench.failure_line("ERROR ValueError: bad size\n", box) == "ValueError: bad size"
    # A rank killed by a signal (no error of its own): the row names it, not the peer that then lost it.
    aborted = box + ("\nRoot Cause (first observed failure):\n[0]:\n  time      : 2026-11-30_12:37:17\n"
                     "  rank      : 0 (local_rank: 0)\n  exitcode  : -6 (pid: 26825)\n  error_file: <N/A>\n"
                     "  traceback : Signal 6 (SIGABRT) received by PID 26825\n" + "=" * 60)
    assert bench.failure_line("", aborted) == "rank 0 was killed by Signal 6 (SIGABRT)"
    result = _bench("gpu_m2v.py", "--tiny", "--gpus", "2", "--presets", "sequential", timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = result.stdout.splitlines()[2:-1]
    assert line.startswith("sequential") and "refused: on N > 1 GPUs only full_gpu, model_offload" in line


def test_gpu_m2v_quick_run_is_held_to_its_eight_minute_budget():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_m2v", ROOT / "bench" / "gpu_m2v.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.QUICK_BUDGET == 8 * 60
    # Each preset gets what is left of the budget, less the time a timed-out child needs to stop.
    assert bench.time_for_preset(420, None, 1000.0) == 420  # no budget: the per-preset timeout
    assert bench.time_for_preset(420, 480, 0.0) == 420 and bench.time_for_preset(420, 480, 200.4) == 269
    assert bench.time_for_preset(420, 480, 480 - bench.STOP_GRACE_S - bench.MIN_PRESET_S + 1) is None
    # A budget spent before a preset can start: it says so, and the run ends in time with a failure code.
    result = _bench("gpu_m2v.py", "--tiny", "--presets", "full_gpu,model_offload", "--profiles", "final",
                    "--memory", "2", "--budget", "25", timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    lines = result.stdout.splitlines()[2:]
    assert [line.split()[0] for line in lines[:-1]] == ["full_gpu", "model_offload"]
    assert all("not started: 25s left of the 25s budget" in line for line in lines[:-1])
    assert lines[-1].startswith("whole run: 0s of the 25s budget (within it)")


def _bench(script: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, **rank_env(), "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return run_ranks(lambda: subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                                            capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=timeout))


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
    temp = tmp_path / "temp"
    temp.mkdir()
    result = _bench("app_bench.py", "--quick", env={"STORYMEM_CACHE": str(tmp_path), "TMPDIR": str(temp)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert list(temp.iterdir()) == []  # every child's projects and settings removed (they were 9 MB per run)
    out = result.stdout
    assert "launch to first paint, median:" in out and "import time (PySide6 + storyboard), median:" in out
    assert "open a 60-shot project" in out and "no takes" in out and "every shot with a take" in out
    assert "drag reorder in the 60-shot timeline" in out and "insertion_row(x)" in out
    assert "Frames set with all 60 shots selected" in out and "a command per shot" in out
    assert "UI-thread stalls while generate_all()" in out and "longest stall, cold queue:" in out
