"""What a damaged story or project file says: one line, in words, naming the file, the place and the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storymem_engine.project import PROJECT_FILE, ProjectError, load_project
from storymem_engine.story import StoryError, load_story


def _project(folder: Path, shots: list[dict]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / PROJECT_FILE).write_text(json.dumps({"schema": 1, "story": {"name": "p", "shots": shots}}))
    return folder


def _project_error(folder: Path) -> str:
    with pytest.raises(ProjectError) as err:
        load_project(folder)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{folder / PROJECT_FILE}: ")
    return text.removeprefix(f"{folder / PROJECT_FILE}: ")


def _script(tmp_path: Path, data: dict) -> str:
    path = tmp_path / "story.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StoryError) as err:
        load_story(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    return text.removeprefix(f"{path}: ")


# --- 1. JSON that does not parse: where, and what is wrong in words (not json's clipped "... starting at") -------


def test_a_project_file_cut_off_inside_a_string_says_so_at_its_line_and_column(tmp_path):
    whole = json.dumps({"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "a kite on a beach"}]}},
                       indent=2)
    (tmp_path / PROJECT_FILE).write_text(whole[:whole.index("a kite") + 3])  # the save stopped mid-prompt
    assert _project_error(tmp_path) == ("not valid JSON at line 8, column 19 (unterminated string: the file ends "
                                        "before its closing quote)")


@pytest.mark.parametrize(("text", "expected"), [
    ('{"story_name": "x", ', "at line 1, column 21 (the file ends before the JSON does; it may have been cut off)"),
    ('{"story_name": "x",\n "scenes": [1,]}', "at line 2, column 15 (a comma before the closing ])"),
    ('{"story_name": "x" "scenes": []}', "at line 1, column 20 (expected a comma)"),
    ('{"story_name" "x"}', "at line 1, column 15 (expected a colon after the field name)"),
    ("{story_name: 1}", "at line 1, column 2 (expected a field name in double quotes)"),
    ('{"story_name": True}', 'at line 1, column 16 (expected a value: a number, "text", true, false, null, an object '
                             "or a list)"),
    ('{"story_name": "x"}}', "at line 1, column 20 (more text after the end of the JSON)"),
    ('{"story_name": "x,\n "scenes": []}', "at line 1, column 19 (a line break inside a string: its closing quote "
                                          "may be missing, or write the line break as \\n)"),
    ('{"story_name": "a\\qb"}', "at line 1, column 18 (an invalid backslash escape in a string)"),
])
def test_json_that_does_not_parse_is_named_in_words(tmp_path, text, expected):
    path = tmp_path / "story.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StoryError) as err:
        load_story(path)
    assert str(err.value) == f"{path}: not valid JSON {expected}"


@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_an_empty_file_is_called_empty(tmp_path, text):
    (tmp_path / "story.json").write_text(text)
    with pytest.raises(StoryError, match=r"story\.json: story file is empty$"):
        load_story(tmp_path / "story.json")
    (tmp_path / PROJECT_FILE).write_text(text)
    assert _project_error(tmp_path) == "project file is empty"


def test_a_story_saved_with_a_byte_order_mark_loads(tmp_path):
    """Windows Notepad and Excel save UTF-8 with a byte order mark: such a story opens like any other."""
    path = tmp_path / "story.json"
    script = {"story_name": "Café", "scenes": [{"scene_num": 1, "video_prompts": ["a"], "cut": [True]}]}
    path.write_text(json.dumps(script, ensure_ascii=False), encoding="utf-8-sig")
    assert load_story(path).name == "Café"


def test_a_story_in_another_encoding_names_the_line_column_and_byte(tmp_path):
    path = tmp_path / "story.json"
    path.write_bytes('{\n  "story_name": "Le café",\n'.encode("latin-1"))
    with pytest.raises(StoryError) as err:
        load_story(path)
    assert str(err.value) == (f"{path}: story file is not UTF-8 text at line 2, column 24: byte 0xe9 (saved in "
                              "another encoding such as Latin-1 or Windows-1252?); save it as UTF-8")


def test_a_repeated_scene_number_names_both_scenes_in_the_list(tmp_path):
    scene = {"video_prompts": ["a"], "cut": [True]}
    data = {"story_name": "x", "scenes": [{"scene_num": 1, **scene}, {"scene_num": 2, **scene},
                                          {"scene_num": 1, **scene}]}
    assert _script(tmp_path, data) == "scenes 1 and 3 in the list both have scene_num 1; give each scene its own number"


# --- 2.-4. the choices as words, which ids repeat, "<path>: <what>" ---------------------------------------------


def test_an_unknown_mode_lists_the_modes_as_words(tmp_path):
    _project(tmp_path, [{"id": "a", "prompt": "p", "mode": "xyz"}])
    assert _project_error(tmp_path) == "shot 1 (a): unknown mode 'xyz' (expected one of auto, t2v, m2v, mi2v, mm2v)"


def test_a_repeated_shot_id_names_the_id_and_both_shot_numbers(tmp_path):
    _project(tmp_path, [{"id": "a", "prompt": "p"}, {"id": "b", "prompt": "p"}, {"id": "a", "prompt": "p"}])
    assert _project_error(tmp_path) == "story: shots 1 and 3 have the same id 'a' (each shot needs its own)"


def test_a_repeated_take_id_names_the_shot_the_id_and_both_takes(tmp_path):
    takes = [{"id": "t1", "clip": "a.mp4"}, {"id": "t2", "clip": "b.mp4"}, {"id": "t2", "clip": "c.mp4"}]
    _project(tmp_path, [{"id": "a", "prompt": "p"}, {"id": "b", "prompt": "p", "takes": takes}])
    assert _project_error(tmp_path) == "shot 2 (b): takes 2 and 3 have the same id 't2' (each take needs its own)"


@pytest.mark.parametrize(("data", "expected"), [
    ({"story_name": "x", "scenes": []}, "field 'scenes': expected a non-empty list of scenes"),
    ({"story_name": 3, "scenes": [{"scene_num": 1, "video_prompts": ["a"], "cut": [True]}]},
     "field 'story_name': expected text, got int"),
    ({"story_name": "x", "story_overview": 1, "scenes": [{"scene_num": 1, "video_prompts": ["a"], "cut": [True]}]},
     "field 'story_overview': expected text, got int"),
])
def test_a_story_script_names_its_file_then_the_problem(tmp_path, data, expected):
    assert _script(tmp_path, data) == expected


# --- 5. values out of range are refused by name, as frames -5 always was -----------------------------------


@pytest.mark.parametrize(("frames", "expected"), [
    (-5, "-5 is outside 1..1001"),
    (0, "0 is outside 1..1001"),
    (1005, "1005 is outside 1..1001"),
])
def test_a_shot_frame_count_out_of_range_is_refused(tmp_path, frames, expected):
    _project(tmp_path, [{"id": "a", "prompt": "p"}, {"id": "b", "prompt": "p", "frames": frames}])
    assert _project_error(tmp_path) == f"shot 2 (b), frames: {expected}"


@pytest.mark.parametrize("frames", [None, 5, 49, 50, 81, 1001])
def test_frame_counts_in_range_load(tmp_path, frames):
    """50 is no count the model makes, but a project saved with it still opens: generating that shot says why it
    cannot (the engine's 4n+1 check), rather than the whole project staying shut."""
    _project(tmp_path, [{"id": "a", "prompt": "p", "frames": frames}])
    assert load_project(tmp_path).story.shots[0].frames == frames


def test_scene_zero_is_refused_in_a_project_and_in_a_story_script(tmp_path):
    _project(tmp_path, [{"id": "a", "prompt": "p", "scene_num": 0}])
    assert _project_error(tmp_path) == "shot 1 (a), scene_num: 0 is outside 1..1000000"
    script = {"story_name": "x", "scenes": [{"scene_num": 0, "video_prompts": ["a"], "cut": [True]}]}
    assert _script(tmp_path, script) == "scene 1, field 'scene_num': 0 is outside 1..1000000"


def test_the_sample_and_the_shared_stories_still_load(story_paths):
    from storyboard.file_controller import SAMPLE_STORY

    for path in [SAMPLE_STORY, *story_paths.values()]:
        story = load_story(path)
        assert story.shots and all(s.scene_num >= 1 for s in story.shots), path
