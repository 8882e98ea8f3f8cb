"""The cast in the memory bank: references first, in the budget, MR2V first shot, lineage, bad images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY_RENDER, run_main, two_shot_script
from PIL import Image

from storymem_engine.cast import CastMember, attached_rows, describe_attachment
from storymem_engine.director import Director, DirectorSettings
from storymem_engine.engine import EngineError, EngineSettings, StoryMemEngine
from storymem_engine.project import Project, load_project
from storymem_engine.reference_images import (
    ReferenceImageError,
    check_reference_image,
    copy_into_project,
    export_official_references,
    official_references,
)
from storymem_engine.request import size_for_aspect
from storymem_engine.story import Shot, Story, StoryError, Take, save_story


def _image(path, size=(48, 64), color=(200, 40, 40), mode="RGB"):
    Image.new(mode, size, color if mode == "RGB" else 0).save(path)
    return path


@pytest.fixture
def project(tmp_path) -> Project:
    story = Story(name="Cast", shots=[Shot(prompt=f"shot {i}", cut=True, scene_num=1, id=f"s{i}") for i in range(4)])
    project = Project(folder=tmp_path / "c.storymem", story=story)
    project.folder.mkdir()
    return project


def _member(project, tmp_path, name="Mara", count=1, **attach) -> CastMember:
    member = CastMember(name=name, **attach)
    for n in range(count):
        source = _image(tmp_path / f"{name}{n}.png", color=(40 * n, 200, 90))
        member.images.append(copy_into_project(project.folder, member, source))
    project.story.cast.append(member)
    return member


def _director(project, engine=None, **settings) -> Director:
    engine = engine or StoryMemEngine(EngineSettings(engine="tiny"))
    return Director(project, engine, DirectorSettings(width=64, height=48, frames=9, steps=2, **settings))


def test_ranges_follow_the_shots_order_and_a_deleted_anchor_leaves_the_end_open(project, tmp_path):
    member = _member(project, tmp_path, from_shot="s1", to_shot="s2")
    story = project.story
    assert attached_rows(story, member) == {1, 2} and describe_attachment(story, member) == "shots 2–3"
    story.shots.insert(2, Shot(prompt="new", id="n"))
    assert attached_rows(story, member) == {1, 2, 3}  # a shot inserted inside the range joins it
    story.shots = [s for s in story.shots if s.id != "s2"]
    assert attached_rows(story, member) == {1, 2, 3}  # the end is open now
    member.attach, member.shots = "shots", ["s0", "s3"]
    assert describe_attachment(story, member) == "shots 1, 4"


def test_a_reference_on_the_first_shot_makes_it_mr2v_sized_by_the_reference(project, tmp_path):
    _member(project, tmp_path, to_shot="s0")  # only the first shot
    (project.folder / project.story.cast[0].images[0].path).unlink()
    _image(project.folder / project.story.cast[0].images[0].path, size=(64, 96))  # portrait reference
    director = _director(project)
    request = director.request_for(0)
    assert request.mode == "m2v" and request.memory_keys == [f"ref:{project.story.cast[0].id}:"
                                                              f"{project.story.cast[0].images[0].id}"]
    assert (request.width, request.height) == size_for_aspect(64, 48, 96, 64) == (32, 64)  # the rule, portrait
    assert director.request_for(1).memory == []  # not attached to shot 2, and shot 1 has no take yet


def test_references_take_memory_slots_first_and_the_sink_keeps_them(project, tmp_path):
    member = _member(project, tmp_path, count=2)
    for n, shot in enumerate(project.story.shots[:3]):
        take = Take(id=f"t{n}", request={}, clip="", keyframes=[f"k/{n}_{i}.png" for i in range(3)], status="done")
        shot.takes, shot.accepted_take = [take], take.id
    director = _director(project, max_memory=5, fix=2)
    keys = [k.key for k in director.memory_for(3)]
    refs = [f"ref:{member.id}:{i.id}" for i in member.images]
    assert keys[:2] == refs and len(keys) == 5  # 2 references + 3 newest keyframes within the 5-image budget
    assert keys[2:] == ["t2:0", "t2:1", "t2:2"]
    project.story.memory_exclusions = [refs[0]]
    assert [k.key for k in director.memory_for(3)][0] == refs[1]  # excluded like any keyframe


def test_the_condition_starts_with_the_references_latents(project, tmp_path, tiny_models):
    """Not only the count: the first memory frame of the condition is the reference image's own latent."""
    import torch

    from storymem_engine.conditioning import encode_normalised, fit_image
    from storymem_engine.engine import to_tensor_image

    member = _member(project, tmp_path, to_shot="s0")
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(tiny_models)))
    director = _director(project, engine)
    request = director.request_for(0)
    reference = np.asarray(Image.open(project.folder / member.images[0].path).convert("RGB"))
    engine.load("m2v")
    condition = engine._condition(request, [reference], None, None)
    own = encode_normalised(engine._m2v.vae, fit_image(to_tensor_image(reference), request.height,
                                                       request.width)[None, :, None])
    assert torch.equal(condition[:, 4:, :1], own.to(condition.dtype))
    assert torch.all(condition[:, :4, :1] == 1)  # a known frame in the mask


def test_a_missing_reference_stops_the_shot_with_its_name(project, tmp_path):
    member = _member(project, tmp_path)
    (project.folder / member.images[0].path).unlink()
    with pytest.raises(EngineError, match="cast reference “Mara”.*missing"):
        _director(project).generate_shot(0)
    assert project.missing_files() == [member.images[0].path]


def test_a_reference_that_does_not_decode_stops_the_shot_with_its_name(project, tmp_path):
    member = _member(project, tmp_path)
    (project.folder / member.images[0].path).write_bytes(b"written over" * 20)
    with pytest.raises(EngineError) as stopped:
        _director(project).generate_shot(1)
    assert str(stopped.value) == (f"the cast reference “Mara” ({member.images[0].path}) cannot be read (not an image "
                                  "in a format that can be read): add the image again or detach it from this shot")


def test_the_cast_is_saved_and_read_back_identically_and_strictly(project, tmp_path):
    _member(project, tmp_path, count=2, attach="shots", shots=["s1", "s3"])
    project.save()
    assert load_project(project.folder).story.cast == project.story.cast
    data = json.loads((project.folder / "project.json").read_text())
    data["story"]["cast"][0]["images"][0]["path"] = "../outside.png"
    (project.folder / "project.json").write_text(json.dumps(data))
    with pytest.raises(StoryError, match="leaves the project folder"):
        load_project(project.folder)
    data["story"]["cast"][0]["attach"] = "sometimes"
    (project.folder / "project.json").write_text(json.dumps(data))
    with pytest.raises(StoryError, match="attach"):
        load_project(project.folder)


@pytest.mark.parametrize("kind, message", [
    ("cmyk", "CMYK"), ("16bit", "16-bit"), ("animated", "animated"), ("text", "not an image"),
    ("huge", "too large"), ("truncated", "cannot be read"),
])
def test_bad_reference_files_are_refused_with_the_reason(tmp_path, kind, message):
    path = tmp_path / f"bad_{kind}.png"
    if kind == "cmyk":
        path = tmp_path / "bad.jpg"
        Image.new("CMYK", (32, 32)).save(path)
    elif kind == "16bit":
        Image.new("I;16", (32, 32)).save(path)
    elif kind == "animated":
        path = tmp_path / "bad.gif"
        frames = [Image.new("RGB", (16, 16), (80 * i, 0, 0)) for i in range(3)]
        frames[0].save(path, save_all=True, append_images=frames[1:])
    elif kind == "text":
        path.write_text("not a picture")
    elif kind == "huge":
        Image.new("1", (9000, 10)).save(path)
    else:
        _image(path, size=(256, 256))
        path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ReferenceImageError, match=message):
        check_reference_image(path)


def test_story_export_writes_the_references_the_way_the_official_mr2v_run_reads_them(project, tmp_path):
    _member(project, tmp_path, count=2, to_shot="s0")
    _member(project, tmp_path, name="Lighthouse", from_shot="s2")  # not on the first shot: not MR2V
    script = tmp_path / "out" / "cast_story.json"
    script.parent.mkdir()
    written = export_official_references(project, script)
    assert [p.name for p in written] == ["00_00_keyframe0.jpg", "00_00_keyframe1.jpg"]
    assert written[0].parent == tmp_path / "out" / "cast_story"
    assert official_references(script) == written
    assert Image.open(written[0]).size == (48, 64)


def test_a_project_with_a_cast_renders_from_the_cli_with_the_references(tmp_path, tiny_cli_env):
    script = two_shot_script(tmp_path, second_is_cut=True)
    out = tmp_path / "two.storymem"
    tiny, env = TINY_RENDER, tiny_cli_env
    assert run_main("render", str(script), "--out", str(out), *tiny, env=env).returncode == 0
    # The editor adds a cast member attached to every shot; the CLI rerun keeps and uses it.
    project = load_project(out)
    member = CastMember(name="Mara")
    member.images.append(copy_into_project(out, member, _image(tmp_path / "mara.png")))
    project.story.cast.append(member)
    project.save()
    result = run_main("render", str(script), "--out", str(out), *tiny, env=env)
    assert result.returncode == 0, result.stderr
    shots = json.loads((out / "manifest.json").read_text())["shots"]
    key = f"ref:{member.id}:{member.images[0].id}"
    assert shots[0]["mode"] == "m2v" and shots[0]["memory_keys"] == [key]  # MR2V from the reference
    assert shots[1]["memory_keys"][0] == key
    assert load_project(out).story.cast == [member]


def test_info_and_render_say_when_the_references_beside_a_script_go_unused(project, tmp_path):
    """Export story JSON writes them and Import story reads them back; main.py ignored them without a word."""
    _member(project, tmp_path, count=2, to_shot="s0")
    script = tmp_path / "out" / "cast_story.json"
    script.parent.mkdir()
    save_story(project.story, script)
    export_official_references(project, script)
    result = run_main("info", str(script))
    assert result.returncode == 0 and json.loads(result.stdout)["shots"] == len(project.story.shots)
    assert (f"note: cast_story/ beside the script holds 2 MR2V reference images (00_00_keyframe<n>.jpg), not used "
            f"here; render from them with --first-shot m2v --reference {script.with_suffix('')}/00_00_keyframe*.jpg"
            in result.stderr)
