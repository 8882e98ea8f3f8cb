"""The engine and director in-process on the tiny models: determinism, cancel, stale takes, layering."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from storymem_engine.director import Director, DirectorSettings
from storymem_engine.engine import EngineSettings, GenerationCancelled, StoryMemEngine
from storymem_engine.project import Project
from storymem_engine.request import GenerationRequest
from storymem_engine.story import load_story


@pytest.fixture(scope="module")
def engine(tiny_models):
    return StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))


def _request(seed, mode="t2v"):
    return GenerationRequest(shot_id="s", prompt="a lighthouse at dusk", mode=mode, seed=seed, width=64, height=48,
                             num_frames=9, steps=2, shift=12.0, boundary_ratio=0.875, engine="tiny")


def test_same_seed_same_frames_other_seed_other_frames(engine):
    a = engine.generate(_request(7))
    b = engine.generate(_request(7))
    c = engine.generate(_request(8))
    assert a.shape == (9, 48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_progress_reports_every_step_with_expert_phases(engine):
    seen = []
    request = _request(1, mode="m2v")
    request.steps = 4
    request.shift, request.boundary_ratio = 4.0, 0.9
    frame = np.full((48, 64, 3), 120, np.uint8)
    engine.generate(request, memory=[frame], progress=seen.append)
    steps = [p.step for p in seen if p.phase in ("high-noise expert", "low-noise expert") and p.step > 0]
    assert steps == [1, 2, 3, 4]
    assert {p.phase for p in seen} >= {"encoding", "high-noise expert", "low-noise expert", "decoding"}
    # The last step is followed by "decoding" (reported from its step callback: the VAE runs inside the call).
    assert [(p.step, p.phase) for p in seen][-2:] == [(4, "low-noise expert"), (4, "decoding")]
    assert all(p.total == 4 and p.shot_id == "s" for p in seen)


def test_cancel_mid_shot_leaves_no_half_take(engine, story_paths, tmp_path):
    story = load_story(story_paths["queen"])
    project = Project(tmp_path / "p.storymem", story)
    project.save()
    before = (project.folder / "project.json").read_text()
    director = Director(project, engine, DirectorSettings(width=64, height=48, frames=9, steps=3))
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(GenerationCancelled):
        director.generate_shot(0, cancel=cancel)
    assert story.shots[0].takes == []
    assert (project.folder / "project.json").read_text() == before
    assert not (project.folder / "takes").exists()


def test_new_upstream_take_makes_downstream_shots_stale(engine, story_paths, tmp_path):
    story = load_story(story_paths["queen"])
    story.shots = story.shots[:3]
    project = Project(tmp_path / "p.storymem", story)
    director = Director(project, engine, DirectorSettings(width=64, height=48, frames=9, steps=2))
    director.run()
    assert all(director.is_current(i) for i in range(3))
    director.generate_shot(0)  # a regenerated opening shot: new keyframes, new memory downstream
    assert len(story.shots[0].takes) == 2
    assert director.is_current(0)
    assert not director.is_current(1) and not director.is_current(2)
    saved = json.loads((project.folder / "project.json").read_text())
    assert saved["story"]["shots"][0]["accepted_take"] == story.shots[0].takes[1].id


def test_a_deleted_last_frame_names_the_shot_to_make_again_not_a_path_not_found(engine, story_paths, tmp_path):
    from storymem_engine.engine import EngineError

    story = load_story(story_paths["queen"])
    story.shots = story.shots[:2]  # shot 2 continues shot 1's last frame (MI2V)
    project = Project(tmp_path / "p.storymem", story)
    director = Director(project, engine, DirectorSettings(width=64, height=48, frames=9, steps=2))
    director.run()
    last = story.shots[0].accepted().last_frame
    (project.folder / last).unlink()  # a cleanup tool, a sync gone wrong
    assert project.missing_files() == [last]  # said when the project opens
    assert director.why_regenerate(0) == f"its file {last} is missing or empty"  # a rerun makes shot 1 again
    with pytest.raises(EngineError, match=f"shot 2 continues shot 1, whose take's last frame {last} is missing or "
                                          "empty: regenerate shot 1, or make shot 2 a scene cut"):
        director.request_for(1)


def test_engine_never_imports_qt_and_package_import_is_light():
    code = (
        "import sys, storymem_engine, storymem_engine.story, storymem_engine.project, storymem_engine.memory,"
        " storymem_engine.keyframes, storymem_engine.cli, storymem_engine.queue_runner,"
        " storymem_engine.engine_process\n"
        "assert 'torch' not in sys.modules, 'torch imported at package import'\n"
        "import storymem_engine.engine, storymem_engine.director, storymem_engine.conditioning,"
        " storymem_engine.pipeline, storymem_engine.rope, storymem_engine.lora, storymem_engine.tiny,"
        " storymem_engine.video, storymem_engine.models\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_a_second_take_draws_a_fresh_seed_and_stays_current(engine, story_paths, tmp_path):
    story = load_story(story_paths["queen"])
    story.shots = story.shots[:1]
    project = Project(tmp_path / "p.storymem", story)
    director = Director(project, engine, DirectorSettings(width=64, height=48, frames=9, steps=2))
    first = director.generate_shot(0)
    second = director.generate_shot(0)
    assert (first.request["seed_rule"], second.request["seed_rule"]) == ("scene", "fresh")
    assert first.request["seed"] != second.request["seed"]
    assert director.is_current(0)  # a drawn seed does not make the take stale
    story.shots[0].seed_locked = True
    third = director.generate_shot(0)
    assert (third.request["seed"], third.request["seed_rule"]) == (second.request["seed"], "shot")
