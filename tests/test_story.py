import json

import pytest

from storymem_engine.story import StoryError, load_story, save_story, story_from_script, story_to_script

EXPECTED = {
    "black": (8, [True, False, True, False, True, True, False, True]),
    "daiyu": (12, [True, False, False, True, False, True, True, False, False, True, False, True]),
    "queen": (7, [True, False, True, False, True, False, True]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_stories_import_with_shot_counts_and_cuts(story_paths, name):
    story = load_story(story_paths[name])
    count, cuts = EXPECTED[name]
    assert len(story.shots) == count
    assert [s.cut for s in story.shots] == cuts
    assert all(s.prompt.strip() for s in story.shots)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_round_trip_keeps_every_field(story_paths, name, tmp_path):
    original = json.loads(story_paths[name].read_text(encoding="utf-8"))
    out = tmp_path / "out.json"
    save_story(load_story(story_paths[name]), out)
    assert json.loads(out.read_text(encoding="utf-8")) == original


def test_string_cuts_and_unknown_fields_survive():
    script = {
        "story_name": "S", "story_overview": "o", "genre": "drama",
        "scenes": [{"scene_num": 1, "video_prompts": ["a", "b"], "first_frame_prompt": ["fa", "fb"],
                    "cut": ["True", "False"], "location": "beach"}],
    }
    story = story_from_script(script)
    assert [s.cut for s in story.shots] == [True, False]
    back = story_to_script(story)
    assert back["genre"] == "drama" and back["scenes"][0]["location"] == "beach"
    assert back["scenes"][0]["cut"] == [True, False]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("scenes"), "missing field 'scenes'"),
        (lambda d: d["scenes"][1]["cut"].__setitem__(2, "maybe"), "scene 2, shot 3, field 'cut'"),
        (lambda d: d["scenes"][0]["cut"].pop(), "scene 1, field 'cut': 1 entry for 2 video_prompts"),
        (lambda d: d["scenes"][2]["video_prompts"].__setitem__(0, ""), "scene 3, shot 1, field 'video_prompts'"),
        (lambda d: d["scenes"][0].pop("scene_num"), "scene 1: missing field 'scene_num'"),
        (lambda d: d["scenes"][1].__setitem__("first_frame_prompt", "x"), "field 'first_frame_prompt'"),
        (lambda d: d["scenes"][0]["first_frame_prompt"].extend(["a", "b"]),
         "scene 1, field 'first_frame_prompt': 4 entries for 2 video_prompts"),
    ],
)
def test_malformed_story_names_file_scene_shot_and_field(story_paths, tmp_path, mutate, expected):
    data = json.loads(story_paths["black"].read_text(encoding="utf-8"))
    mutate(data)
    bad = tmp_path / "bad_story.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StoryError) as err:
        load_story(bad)
    assert "bad_story.json" in str(err.value)
    assert expected in str(err.value)


def test_not_json_and_missing_file_are_clear(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"story_name": "x", ', encoding="utf-8")
    with pytest.raises(StoryError, match=r"broken.json: not valid JSON at line 1, column 21 \(the file ends before"):
        load_story(broken)
    with pytest.raises(StoryError, match="nope.json: story file not found"):
        load_story(tmp_path / "nope.json")


def test_a_malformed_shot_in_a_project_is_named_by_its_timeline_number(tmp_path):
    from storymem_engine.project import Project, load_project
    from storymem_engine.story import Shot, Story

    story = Story(name="P", shots=[Shot(prompt="a", cut=True, id="first"), Shot(prompt="b", id="second")])
    Project(folder=tmp_path, story=story).save()
    data = json.loads((tmp_path / "project.json").read_text(encoding="utf-8"))
    data["story"]["shots"][1]["takes"] = "nope"
    (tmp_path / "project.json").write_text(json.dumps(data), encoding="utf-8")
    # The number the user sees on the card, then the id (two shots may share a prompt).
    with pytest.raises(StoryError, match=r"shot 2 \(second\), takes: expected a list, got str"):
        load_project(tmp_path)


def test_a_take_keeps_why_it_added_no_keyframes():
    """The memory strip names a shot whose take added none and why: the reason survives a save and an old project
    without it still opens."""
    from storymem_engine.story import Take

    take = Take(id="t1", request={}, clip="takes/a/t1/clip.mp4",
                keyframes_note="no frame passed the hpsv3 quality gate (threshold 3)")
    assert Take.from_dict(json.loads(json.dumps(take.to_dict()))).keyframes_note == take.keyframes_note
    old = {k: v for k, v in take.to_dict().items() if k != "keyframes_note"}
    assert Take.from_dict(old).keyframes_note == ""


def test_take_numbers_stay_with_their_takes_and_older_projects_are_numbered_in_order():
    """"Take 2" stays take 2 after take 1 is deleted, a deleted take's number is not given again, a project saved
    before take numbers numbers its takes in their order, and repeated numbers in a file are told apart."""
    from storymem_engine.story import Shot, Take

    shot = Shot(prompt="a lighthouse")
    for name in ("a", "b", "c"):
        shot.add_take(Take(id=name, request={}, clip=f"takes/{name}.mp4"))
    assert [t.number for t in shot.takes] == [1, 2, 3]
    shot.takes = [t for t in shot.takes if t.id != "c"]  # the newest deleted
    assert shot.add_take(Take(id="d", request={}, clip="takes/d.mp4")).number == 4
    again = Shot.from_dict(json.loads(json.dumps(shot.to_dict())))
    assert [(t.id, t.number) for t in again.takes] == [("a", 1), ("b", 2), ("d", 4)] and again.last_take_number == 4

    old = shot.to_dict()
    del old["last_take_number"]
    for take in old["takes"]:
        del take["number"]
    assert [t.number for t in Shot.from_dict(old).takes] == [1, 2, 3]
    for take in old["takes"]:
        take["number"] = 5
    assert [t.number for t in Shot.from_dict(old).takes] == [5, 6, 7]
