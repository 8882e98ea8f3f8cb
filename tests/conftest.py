"""Shared test setup: fully offline, tiny models built once per session, the shared stories."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from storymem_engine import engine_process

# The property tests draw the same examples on every run (a red CI names a bug, never a lucky draw); a hunt for new
# cases: HYPOTHESIS_PROFILE=explore.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The app's engine processes start by spawning (every one imports torch, diffusers, transformers, open_clip and peft
# anew, ~4 s here); the suite starts ~60 of them, so they fork from one server that imported those once. The spawn
# path stays covered by the tests that run the app in a process of its own (test_selftest.py, the screenshots).
engine_process.START_METHOD = "forkserver"
# The same server forks the `main.py` runs of the CLI tests (run_main): it imports the CLI's libraries too.
engine_process.FORKSERVER_PRELOAD = (*engine_process.FORKSERVER_PRELOAD, "storymem_engine.cli", "diffusers")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
STBENCH = SHARED / "stbench"


def run_main(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    """Run `python main.py ...` as a user would, offline, returning the CompletedProcess.

    The process is forked from the suite's forkserver, which imported torch, diffusers and transformers once
    (main_child.py says what stays the user's own)."""
    import multiprocessing
    import subprocess
    import tempfile

    import main_child

    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    command = [sys.executable, str(ROOT / "main.py"), *args]
    with tempfile.TemporaryDirectory() as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(engine_process.FORKSERVER_PRELOAD))
        child = context.Process(target=main_child.run, args=(str(ROOT), list(args), full_env, str(cwd or ROOT),
                                                              str(out), str(err)))
        child.start()
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(command, timeout, out.read_text(), err.read_text())
        return subprocess.CompletedProcess(command, child.exitcode, out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    from storymem_engine.tiny import ensure_tiny_models

    folder = tmp_path_factory.mktemp("models") / "tiny"
    return ensure_tiny_models(folder)


# `main.py render` on the tiny engine at the smallest size the tests use.
TINY_RENDER = ["--engine", "tiny", "--size", "64x48", "--frames", "9", "--steps", "2"]


@pytest.fixture
def tiny_cli_env(tmp_path, tiny_models) -> dict[str, str]:
    """The environment of a `main.py render --engine tiny` subprocess: the session's tiny models as its cache."""
    import shutil

    from storymem_engine.tiny import TINY_VERSION

    cache = tmp_path / "cache"
    shutil.copytree(tiny_models, cache / TINY_VERSION)
    return {"STORYMEM_CACHE": str(cache)}


def two_shot_script(folder: Path, second_is_cut: bool) -> Path:
    """A two-shot story script (one scene): the second shot a cut (M2V) or a continuation (MI2V)."""
    import json

    script = folder / "two.json"
    script.write_text(json.dumps({"story_name": "Two", "scenes": [
        {"scene_num": 1, "video_prompts": ["a kite on the beach", "the kite in the sky"],
         "cut": [True, second_is_cut]}]}))
    return script


@pytest.fixture(scope="session")
def story_paths() -> dict[str, Path]:
    paths = {p.stem: p for p in sorted(STBENCH.glob("*.json"))}
    assert paths, f"the shared ST-Bench stories are missing under {STBENCH}"
    return paths
