"""Quality profiles: what a draft request is, which shots Finalize redoes, and that a rerun never downgrades."""

from __future__ import annotations

import pytest
from conftest import TINY_RENDER, run_main, two_shot_script

from storymem_engine.director import Director, DirectorSettings, is_draft
from storymem_engine.engine import EngineSettings, StoryMemEngine
from storymem_engine.project import Project, load_project
from storymem_engine.render_settings import RenderSettings
from storymem_engine.request import DRAFT_NOTE, GenerationRequest, profile_note
from storymem_engine.story import Shot, Story, StoryError, Take


def _director(project: Project, **settings) -> Director:
    engine = StoryMemEngine(EngineSettings(engine="tiny"))  # builds nothing until a shot is generated
    return Director(project, engine, DirectorSettings(width=64, height=48, frames=9, steps=2, **settings))


def _take(take_id: str, request: GenerationRequest) -> Take:
    return Take(id=take_id, request=request.to_dict(), clip="", frames=9, status="done")


@pytest.fixture
def project(tmp_path) -> Project:
    story = Story(name="P", shots=[Shot(prompt=f"shot {i}", cut=True, scene_num=1, id=f"s{i}") for i in range(3)])
    return Project(folder=tmp_path / "p.storymem", story=story)


def test_a_draft_request_is_the_distilled_schedule_whatever_the_shot_asks(project):
    project.story.shots[0].steps, project.story.shots[0].guidance = 30, 6.0
    final = _director(project).request_for(0)
    draft = _director(project, profile="draft").request_for(0)
    assert (final.profile, final.steps, final.guidance, final.shift) == ("final", 30, 6.0, 12.0)
    assert (draft.profile, draft.steps, draft.guidance, draft.shift, draft.boundary_ratio) == (
        "draft", 4, 1.0, 5.0, 0.875)
    assert draft.seed == final.seed  # the same noise: a draft previews the final shot
    assert profile_note(draft.to_dict()) == DRAFT_NOTE and profile_note(final.to_dict()) == ""


def test_a_shots_own_profile_wins_over_the_projects(project):
    project.story.shots[1].profile = "draft"
    director = _director(project)
    assert [director.profile_for(i) for i in range(3)] == ["final", "draft", "final"]
    project.story.shots[1].profile = ""
    assert _director(project, profile="draft").profile_for(1) == "draft"


def test_profiles_are_saved_and_read_strictly(project):
    project.story.shots[2].profile = "draft"
    project.settings = RenderSettings(profile="draft")
    project.save()
    loaded = load_project(project.folder)
    assert loaded.story.shots[2].profile == "draft" and loaded.settings.profile == "draft"
    with pytest.raises(StoryError, match="profile"):
        Shot.from_dict({"id": "x", "prompt": "p", "profile": "fast"})
    with pytest.raises(StoryError, match="profile"):
        RenderSettings.from_dict({"profile": "turbo"})


def test_finalize_picks_exactly_the_draft_shots_and_a_final_take_is_never_traded_for_a_draft(project):
    draft = _director(project, profile="draft")
    final = _director(project)
    shots = project.story.shots
    shots[0].takes = [_take("d0", draft.request_for(0))]
    shots[1].takes = [_take("f1", final.request_for(1))]
    shots[2].takes = [_take("f2", final.request_for(2)), _take("d2", draft.request_for(2))]
    for shot in shots:
        shot.accepted_take = shot.takes[-1].id
    assert draft.draft_shots() == [0, 2] and [is_draft(s.accepted()) for s in shots] == [True, False, True]
    # Asked for drafts, shot 2's final take is current (a rerun keeps it); asked for finals, the drafts are not.
    assert draft.why_regenerate(1) == ""
    assert "profile" in final.why_regenerate(0) and "steps" in final.why_regenerate(0)


def test_render_draft_then_final_finalizes_every_shot_from_the_cli(tmp_path, tiny_cli_env):
    import json

    script = two_shot_script(tmp_path, second_is_cut=False)
    out = tmp_path / "two.storymem"
    tiny, env = TINY_RENDER, tiny_cli_env
    result = run_main("render", str(script), "--out", str(out), *tiny, "--profile", "draft", env=env)
    assert result.returncode == 0, result.stderr
    assert DRAFT_NOTE in result.stderr
    assert "Profile draft: 4 steps, CFG off (--steps not used: the draft profile sets its own)" in result.stderr
    drafts = json.loads((out / "manifest.json").read_text())["shots"]
    assert [s["profile"] for s in drafts] == ["draft", "draft"] and drafts[0]["profile_note"] == DRAFT_NOTE
    assert all(load_project(out).story.shots[i].accepted().request["steps"] == 4 for i in range(2))
    # The same command at the final profile makes both again (same seeds); the drafts stay as older takes.
    result = run_main("render", str(script), "--out", str(out), *tiny, "--profile", "final", env=env)
    assert result.returncode == 0, result.stderr
    finals = json.loads((out / "manifest.json").read_text())["shots"]
    assert [s["profile"] for s in finals] == ["final", "final"] and [s["seed"] for s in finals] == [
        s["seed"] for s in drafts]
    assert [len(s.takes) for s in load_project(out).story.shots] == [2, 2]


def test_a_rerender_keeps_the_profile_a_shot_was_given_in_the_editor(project):
    from storymem_engine.cli import _open_project
    from storymem_engine.story import story_from_script, story_to_script

    script = story_to_script(project.story)
    project.story = story_from_script(script)  # shot ids as a render of this script makes them
    project.story.shots[1].profile = "draft"
    project.save()
    again = _open_project(project.folder, story_from_script(script))
    assert [s.profile for s in again.story.shots] == ["", "draft", ""]
