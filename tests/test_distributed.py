"""Context parallelism (render --gpus N) on the CPU: 2 gloo processes against the single-process run.

The GPU path is the same code on NCCL; here diffusers' parallel setup needs the test-only device-count shim
(STORYMEM_CPU_PARALLEL_TEST=1, see storymem_engine/distributed.py). Ulysses only: ring attention needs a
kernel that returns the log-sum-exp (flash-attn, SageAttention, PyTorch's flash SDPA), all CUDA only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_main
from rank_processes import rank_env, ranks_of, run_ranks

from storymem_engine.distributed import CPU_TEST_ENV, token_split_problem

TINY = ["--engine", "tiny", "--size", "64x48", "--frames", "9", "--steps", "2"]
CPU_PARALLEL = {CPU_TEST_ENV: "1"}
# Latents: the 2-rank run was bit-identical in every run here; the bound allows for a different reduction order
# (the ranks run 1 CPU thread each). Frames: one uint8 level, for a latent that rounds the other way.
LATENT_ATOL = 1e-4
FRAME_LEVELS = 1


@pytest.fixture(scope="module")
def parallel_shots(tiny_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("cp") / "ranks.npz"
    env = {**os.environ, **CPU_PARALLEL, **rank_env(), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}
    result = run_ranks(lambda: subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(ROOT / "tests" / "cp_shot_worker.py"), str(tiny_models), str(out)],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(out))


@pytest.fixture(scope="module")
def single_shots(tiny_models):
    from cp_shot_worker import run_shots

    from storymem_engine.engine import EngineSettings, StoryMemEngine

    return run_shots(StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models),
                                                   keyframe_similarity="hsv")))


@pytest.mark.parametrize("stride", [1, 3])
def test_an_m2v_shot_on_two_ranks_matches_the_single_process_run(parallel_shots, single_shots, stride):
    assert int(parallel_shots["world"]) == 2
    one, two = single_shots[f"latents_{stride}"], parallel_shots[f"latents_{stride}"]
    assert one.shape == two.shape == (1, 16, 3, 6, 8)  # memory frames dropped: the shot's 3 latent frames
    np.testing.assert_allclose(two, one, rtol=0, atol=LATENT_ATOL)
    frames_one, frames_two = single_shots[f"frames_{stride}"], parallel_shots[f"frames_{stride}"]
    assert frames_one.shape == frames_two.shape
    assert np.abs(frames_one.astype(int) - frames_two).max() <= FRAME_LEVELS


@pytest.mark.parametrize("stride", [1, 3])
def test_sharded_weights_give_the_single_process_shot_with_half_the_weights_per_rank(parallel_shots, single_shots,
                                                                                     stride):
    # Every weight is held once across the ranks, and rank 0 keeps half of every matrix.
    assert int(parallel_shots["held"].sum()) == int(parallel_shots["whole"])
    assert max(parallel_shots["held"]) < int(parallel_shots["whole"])
    assert float(parallel_shots["matrix_fraction"]) == pytest.approx(0.5, abs=0.01)
    # FSDP2 gathers each block's weights with a collective: the sums can round differently from one process.
    np.testing.assert_allclose(parallel_shots[f"shard_latents_{stride}"], single_shots[f"latents_{stride}"],
                               rtol=0, atol=LATENT_ATOL)
    diff = np.abs(single_shots[f"frames_{stride}"].astype(int) - parallel_shots[f"shard_frames_{stride}"])
    assert diff.max() <= FRAME_LEVELS


def test_the_memory_stride_reaches_the_split_rope(single_shots, parallel_shots):
    # Stride 3 moves the memory frames' positions: a different shot, on one rank and on two alike.
    for run in (single_shots, parallel_shots):
        assert np.abs(run["latents_1"] - run["latents_3"]).max() > 1e-3


def test_a_token_count_that_does_not_split_is_refused_with_the_numbers(parallel_shots):
    message = str(parallel_shots["messages"][0])
    assert "27 video tokens" in message and "3 latent frames, 1 of them memory" in message
    assert "does not divide by 2" in message and "--max-memory" in message
    ring = str(parallel_shots["messages"][1])
    assert "ring attention" in ring and "--parallel ulysses" in ring


def test_token_split_problem_names_the_gpu_counts_that_fit():
    assert token_split_problem((1, 16, 6, 60, 104), (1, 2, 2), 3, 8) == ""  # 6 x 30 x 52 = 9360 tokens
    message = token_split_problem((1, 16, 3, 6, 6), (1, 2, 2), 1, 4)  # 3 x 3 x 3 = 27
    assert "27 video tokens" in message and "--gpus 3" in message


def _story(tmp_path):
    path = tmp_path / "story.json"
    path.write_text(json.dumps({"story_name": "harbour", "story_overview": "a harbour at dawn", "scenes": [
        {"scene_num": 1, "video_prompts": ["a harbour at dawn", "a gull on a post"], "cut": [True, True]}]}))
    return path


def _memory_by_shot(manifest) -> list[list[str]]:
    """Each shot's memory as "shot index:keyframe" (take ids are random)."""
    index = {s["take_id"]: s["index"] for s in manifest["shots"]}
    return [[f"{index[key.split(':')[0]]}:{key.split(':')[1]}" for key in s["memory_keys"]] for s in manifest["shots"]]


@pytest.fixture(scope="module")
def cli_env(tiny_models, tmp_path_factory):
    from storymem_engine.tiny import TINY_VERSION

    # The CLI finds the tiny models through STORYMEM_CACHE/<TINY_VERSION>: the session's build.
    cache = tmp_path_factory.mktemp("cache")
    (cache / TINY_VERSION).symlink_to(tiny_models, target_is_directory=True)
    # One thread per process: the 2-rank runs share the cores, and OpenMP threads spinning against each other cost more.
    return {"STORYMEM_CACHE": str(cache), "OMP_NUM_THREADS": "1", **CPU_PARALLEL, **rank_env()}


def test_render_on_two_ranks_makes_the_takes_a_single_process_render_makes(tmp_path, cli_env):
    from PIL import Image

    story = _story(tmp_path)
    runs = {}
    for gpus, extra in (("1", []), ("2", ["--shard-weights"])):  # 2 ranks: tokens split and weights sharded
        out = tmp_path / f"gpus{gpus}"
        args = ("render", str(story), "--out", str(out), *TINY, "--gpus", gpus, *extra)

        def render(args=args, out=out):
            shutil.rmtree(out, ignore_errors=True)  # a run again starts from an empty project
            return run_main(*args, env=cli_env)

        result = run_ranks(render)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[gpus] = (out, json.loads((out / "manifest.json").read_text()), result.stderr)
    (out1, one, _), (out2, two, stderr) = runs["1"], runs["2"]
    assert "Offload: full_gpu: the experts' weights sharded across 2 GPUs." in stderr
    # Rank 0 alone talks and writes: one settings line, one summary, one project.
    assert stderr.count("Settings:") == 1 and stderr.count("Rendered 2 shots (2 generated)") == 1
    fields = ("mode", "seed", "frames", "size")
    assert [[s[f] for f in fields] for s in two["shots"]] == [[s[f] for f in fields] for s in one["shots"]]
    assert _memory_by_shot(two) == _memory_by_shot(one)
    assert [s["mode"] for s in two["shots"]] == ["t2v", "m2v"]
    assert [len(s["keyframes"]) for s in two["shots"]] == [len(s["keyframes"]) for s in one["shots"]]
    assert len(two["shots"][1]["memory"]) > 0  # the M2V shot saw the memory bank rank 0 built
    for a, b in zip(one["shots"], two["shots"], strict=True):
        take_a, take_b = (out / s["clip"].rsplit("/", 1)[0] for out, s in ((out1, a), (out2, b)))
        for name in ("last.png", "motion_0.png"):
            pa, pb = (np.asarray(Image.open(t / name)).astype(int) for t in (take_a, take_b))
            assert np.abs(pa - pb).max() <= FRAME_LEVELS


def test_a_failing_render_on_two_ranks_is_one_line_and_stops_every_rank(tmp_path, cli_env):
    # 48x48, 9 frames: the T2V shot's 3 latent frames x 3x3 patches = 27 tokens, which 2 ranks cannot split.
    out = tmp_path / "odd"
    result = run_main("render", str(_story(tmp_path)), "--out", str(out), "--engine", "tiny", "--size", "48x48",
                      "--frames", "9", "--steps", "2", "--gpus", "2", env=cli_env, timeout=120)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "27 video tokens" in errors[0], result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_gpus_without_cuda_is_refused_before_anything_starts(tmp_path, story_paths):
    env = {k: v for k, v in os.environ.items() if k != CPU_TEST_ENV}
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "render", str(story_paths["queen"]), "--out",
                             str(tmp_path / "o"), *TINY, "--gpus", "2"], capture_output=True, text=True, env=env,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: --gpus 2 needs CUDA GPUs (one process per GPU) and none was found; "
                                     "render without --gpus here")
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the rank processes in /proc")
def test_a_killed_rank_ends_every_rank_with_one_line(tmp_path, cli_env):
    import signal
    import time

    err = tmp_path / "stderr.txt"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **cli_env}
    with err.open("w") as stderr:
        launcher = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "render", str(_story(tmp_path)), "--out",
                                     str(tmp_path / "out"), *TINY[:-1], "500", "--gpus", "2"],
                                    stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while "high-noise expert" not in err.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)  # both ranks are denoising shot 1
            ranks = ranks_of(launcher.pid, "storymem_engine.rank_main")
            assert set(ranks) == {0, 1}, err.read_text()[-2000:]
            os.kill(ranks[1], signal.SIGKILL)
            code = launcher.wait(timeout=60)
        finally:
            launcher.kill()
    assert code == 1
    errors = [line for line in err.read_text().replace("\r", "\n").splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: rank 1 of the 2-GPU render was killed (signal 9)")
    assert errors[0].endswith("; every rank stopped")
    assert not Path(f"/proc/{ranks[0]}").exists() and not Path(f"/proc/{ranks[1]}").exists()


def _driver_folder(tmp_path, models: list[str]) -> Path:
    """What the NVIDIA driver shows in /proc/driver/nvidia/gpus: a folder per GPU, named by PCI bus id."""
    root = tmp_path / "gpus"
    for n, model in enumerate(models):
        gpu = root / f"0000:{0x18 + n:02x}:00.0"
        gpu.mkdir(parents=True)
        (gpu / "information").write_text(f"Model: \t\t {model}\nIRQ:   \t\t 42\nBus Location: \t {gpu.name}\n")
    return root


def test_the_gpus_are_named_and_follow_cuda_visible_devices(monkeypatch, tmp_path):
    from storymem_engine import multi_gpu

    monkeypatch.setattr(multi_gpu, "NVIDIA_PROC", _driver_folder(tmp_path, ["NVIDIA H200", "NVIDIA H200",
                                                                            "NVIDIA GeForce RTX 4090"]))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert multi_gpu.visible_gpus() == ["NVIDIA H200", "NVIDIA H200", "NVIDIA GeForce RTX 4090"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert multi_gpu.visible_gpus() == ["NVIDIA GeForce RTX 4090", "NVIDIA H200"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,-1,0")  # CUDA stops at the first invalid id
    assert multi_gpu.visible_gpu_count() == 1
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert multi_gpu.visible_gpu_count() == 0


def test_the_gpu_note_says_what_gpus_per_shot_does():
    from storymem_engine.multi_gpu import gpu_note

    assert "--gpus 4" in gpu_note(4) and "GPUs per shot splits every shot" in gpu_note(4)
    assert gpu_note(1).startswith("1 NVIDIA GPU") and "No NVIDIA GPU" in gpu_note(0)


def test_host_ram_for_every_rank_is_checked_before_launching():
    from storymem_engine.accounting import Machine, preset_needs
    from storymem_engine.multi_gpu import GpuCountError, check_host_memory

    per_rank = preset_needs("model_offload").ram_gib
    roomy = Machine(ram_gib=per_rank * 4 / 0.8, vram_gib=80.0)
    check_host_memory("model_offload", 2, roomy)
    small = Machine(ram_gib=per_rank * 2.5, vram_gib=80.0)
    with pytest.raises(GpuCountError) as refused:
        check_host_memory("model_offload", 8, small)
    message = str(refused.value)
    assert f"{per_rank:.1f} GiB of RAM per process, {per_rank * 8:.1f} GiB in all" in message
    assert f"Use --gpus {int(small.usable_ram_gib // per_rank)} or a preset" in message


def test_sequential_offload_is_refused_with_gpus_before_any_rank_starts(tmp_path, cli_env):
    result = run_main("render", str(_story(tmp_path)), "--out", str(tmp_path / "o"), *TINY, "--gpus", "2",
                      "--offload", "sequential", env=cli_env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: --gpus: the 'sequential' offload preset cannot be split across GPUs; "
                                     "use --offload group_offload or model_offload")
    assert not (tmp_path / "o").exists()


def test_shard_weights_needs_gpus_and_the_final_profile(tmp_path, cli_env):
    story = str(_story(tmp_path))
    alone = run_main("render", story, "--out", str(tmp_path / "a"), *TINY, "--shard-weights", env=cli_env)
    assert alone.returncode == 2 and "add --gpus N (2 or more)" in alone.stderr
    draft = run_main("render", story, "--out", str(tmp_path / "b"), *TINY, "--gpus", "2", "--shard-weights",
                     "--profile", "draft", env=cli_env)
    assert draft.returncode == 2 and "--shard-weights cannot render draft shots" in draft.stderr


def test_sharded_experts_need_a_fraction_of_the_vram_and_the_check_says_so():
    from storymem_engine.accounting import A14B_SIZES, GIB, InsufficientMemory, Machine, preflight, preset_needs

    whole, two, four = (preset_needs("full_gpu", shards=n) for n in (1, 2, 4))
    assert whole.ram_gib == two.ram_gib == four.ram_gib  # each rank loads an expert whole before sharding it
    experts = (2 * A14B_SIZES.expert + 2 * A14B_SIZES.lora) / GIB * 1.04
    assert whole.vram_gib - two.vram_gib == pytest.approx(experts / 2 - 2 * A14B_SIZES.block / GIB * 1.04, abs=0.1)
    assert four.vram_gib < two.vram_gib < 60 < whole.vram_gib
    with pytest.raises(ValueError):
        preset_needs("model_offload", shards=2)
    with pytest.raises(InsufficientMemory) as refused:
        preflight("full_gpu", Machine(ram_gib=512.0, vram_gib=24.0), shards=4)
    assert "'full_gpu' offload preset with the experts sharded across 4 GPUs needs" in str(refused.value)
    assert f"{four.vram_gib:.1f} GiB of VRAM" in str(refused.value)


def test_the_readme_states_the_sharded_figures_the_preflight_uses():
    from storymem_engine.accounting import preset_needs

    readme = " ".join((ROOT / "README.md").read_text().split())
    two, four = (preset_needs("full_gpu", shards=n) for n in (2, 4))
    four_cpu_encoder = preset_needs("full_gpu", shards=4, text_encoder_on_cpu=True)
    assert (f"{preset_needs('full_gpu').vram_gib} GiB unsharded, {two.vram_gib} GiB on 2 GPUs, {four.vram_gib} GiB "
            f"on 4 ({four_cpu_encoder.vram_gib} GiB with the text encoder on the CPU)") in readme


def test_main_runs_the_rank_modules_the_way_a_bundled_app_starts_them(story_paths):
    # In a PyInstaller bundle sys.executable is the app: the launcher's `<executable> -m storymem_engine.rank_main
    # ...` reaches main.py, which must run the module as the interpreter's -m would.
    result = run_main("-m", "storymem_engine.rank_main", "info", str(story_paths["queen"]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["shots"] > 0
