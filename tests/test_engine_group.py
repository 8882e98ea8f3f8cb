"""The app's engine process with GPUs per shot > 1 (engine_group.py): it launches the ranks, rank 0 runs the queue
and the launcher relays its events. On the CPU: 2 gloo ranks with the test-only device-count shim (distributed.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rank_processes import rank_env, ranks_of

from storymem_engine.engine_process import DIED, EngineProcess
from storymem_engine.multi_gpu import CPU_TEST_ENV
from storymem_engine.queue_runner import GenerationJob

GROUP = "storymem_engine.group_rank"
FRAME_LEVELS = 1  # as test_distributed.py: one uint8 level for a latent that rounds the other way


@pytest.fixture
def make_job(tmp_path, tiny_models, monkeypatch):
    from storymem_engine.project import Project
    from storymem_engine.render_settings import RenderSettings
    from storymem_engine.story import load_story

    monkeypatch.setenv(CPU_TEST_ENV, "1")  # the engine process and its ranks inherit it
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name, value in rank_env().items():  # a rank that aborts prints its Python stack
        monkeypatch.setenv(name, value)
    script = tmp_path / "story.json"
    script.write_text(json.dumps({"story_name": "harbour", "scenes": [
        {"scene_num": 1, "video_prompts": ["a harbour at dawn", "a gull on a post"], "cut": [True, True]}]}))
    project = Project(folder=tmp_path / "film.storymem", story=load_story(script))
    project.folder.mkdir()
    project.save()

    def make(gpus: int, steps: int = 2) -> GenerationJob:
        director = dict(RenderSettings(width=64, height=48, frames=9, steps=steps).director_fields(),
                        save_project=False)
        return GenerationJob(folder=str(project.folder), project=project.to_dict(),
                             shot_ids=[s.id for s in project.story.shots], director=director, gpus=gpus,
                             engine=dict(engine="tiny", models_dir=str(tiny_models), keyframe_similarity="hsv"))
    return make


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the rank processes in /proc")
def test_a_queue_split_across_two_gpus_matches_one_gpu_and_cancel_keeps_the_group(make_job):
    engine = EngineProcess()
    try:
        one = [e for e in engine.run(make_job(1)) if e[0] == "take_ready"]
        single_pid = engine.pid
        two = [e for e in engine.run(make_job(2)) if e[0] == "take_ready"]
        # Another layout is another process: the one-GPU engine was ended, the launcher started its 2 ranks.
        assert not _alive(single_pid)
        ranks = ranks_of(engine.pid, GROUP)
        assert set(ranks) == {0, 1}
        assert [t[2]["backends"].get("gpus") for t in one] == [None, None]
        assert [t[2]["backends"]["gpus"] for t in two] == ["2 (ulysses)", "2 (ulysses)"]
        folder = Path(make_job(1).folder)
        for a, b in zip(one, two, strict=True):
            assert a[2]["request"]["seed"] == b[2]["request"]["seed"]
            frames = [np.asarray(Image.open(folder / t[2]["last_frame"])).astype(int) for t in (a, b)]
            assert np.abs(frames[0] - frames[1]).max() <= FRAME_LEVELS

        # Cancel part-way: every rank stops at the same step; the group and its models stay for the next queue.
        events, asked = [], False
        for event in engine.run(make_job(2, steps=400)):
            events.append(event)
            if event[0] == "progress" and event[2] >= 2 and not asked:
                engine.cancel()
                asked = True
        names = [e[0] for e in events]
        assert DIED not in names and "take_ready" not in names
        assert [e[1] for e in events if e[0] == "cancelled"] == make_job(2).shot_ids
        assert ranks_of(engine.pid, GROUP) == ranks
        ready = [e for e in engine.run(make_job(2)) if e[0] in ("engine_ready", "take_ready")]
        assert ready[0][:3] == ("engine_ready", "tiny engine (random weights)", True)  # models kept loaded
        assert len(ready) == 3

        # A shot that fails part-way on every rank (48x48: 27 tokens cannot split in 2) is reported by rank 0; that
        # group then ends, and the next queue, sent at once, runs on a new one (not lost to the ending group).
        odd = make_job(2)
        odd.director["width"] = 48
        failed = [e for e in engine.run(odd) if e[0] in ("failed", DIED)]
        assert [e[0] for e in failed] == ["failed"] and "27 video tokens" in failed[0][2]
        again = [e for e in engine.run(make_job(2))]
        assert [e[0] for e in again].count("take_ready") == 2, again
        ranks.update({f"old {k}": v for k, v in ranks_of(engine.pid, GROUP).items()})
    finally:
        launcher = engine.pid
        engine.close()
    assert launcher is not None and not _alive(launcher)
    assert not [pid for pid in ranks.values() if _alive(pid)]  # no orphaned rank keeps (GPU) memory


def test_ranks_building_the_tiny_models_at_once_each_get_a_whole_folder(tmp_path):
    """A first Generate on N GPUs starts N ranks that all need the tiny models, which no one has built yet."""
    import subprocess

    folder = tmp_path / "tiny"
    # Each prints the folder it was handed (its inode): a second build would replace the first one's folder under it.
    code = ("import os, sys; from pathlib import Path; from storymem_engine.tiny import ensure_tiny_models; "
            "print(os.stat(ensure_tiny_models(Path(sys.argv[1]))).st_ino)")
    builders = [subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
                for _ in range(2)]
    results = [b.communicate(timeout=300) for b in builders]
    assert [b.returncode for b in builders] == [0, 0], results
    assert results[0][0].strip() == results[1][0].strip() == str(folder.stat().st_ino)  # built once, kept
    assert (folder / ".complete").is_file() and not list(tmp_path.glob(".tiny-*"))
