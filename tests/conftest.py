"""Shared test setup: fully offline, tiny models built once per session, the shared stories."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
STBENCH = SHARED / "stbench"


def run_main(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    """Run `python main.py ...` as a user would, offline, returning the CompletedProcess."""
    import subprocess

    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=full_env, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    from storymem_engine.tiny import ensure_tiny_models

    folder = tmp_path_factory.mktemp("models") / "tiny"
    return ensure_tiny_models(folder)


@pytest.fixture(scope="session")
def story_paths() -> dict[str, Path]:
    paths = {p.stem: p for p in sorted(STBENCH.glob("*.json"))}
    assert paths, f"the shared ST-Bench stories are missing under {STBENCH}"
    return paths
