"""Nothing lost, nothing escapes: the specific inputs that broke the readers, the CLI and saving before."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest
from conftest import run_main

from storymem_engine.project import (
    AUTOSAVE_FILE,
    LOCK_FILE,
    PROJECT_FILE,
    Project,
    ProjectBusy,
    ProjectError,
    load_project,
    take_folder,
    writing,
)
from storymem_engine.story import Shot, Story, StoryError, load_story, save_story, story_to_script

TINY = ["--engine", "tiny", "--size", "64x48", "--frames", "9", "--steps", "2"]


def _script(**scene_overrides) -> dict:
    scene = {"scene_num": 1, "video_prompts": ["a kite", "a beach"], "first_frame_prompt": ["", ""],
             "cut": [True, False], **scene_overrides}
    return {"story_name": "s", "story_overview": "o", "scenes": [scene]}


def _write_json(path, data) -> None:
    path.write_text(json.dumps(data, ensure_ascii=True))


def _project_data(**story_overrides) -> dict:
    story = {"name": "p", "shots": [{"id": "shot-001", "prompt": "a kite", "cut": True, "scene_num": 1}],
             **story_overrides}
    return {"schema": 1, "story": story, "settings": {}}


# --- 1. text that cannot be saved -----------------------------------------------------------------


def test_a_lone_surrogate_is_refused_at_import_naming_the_shot(tmp_path):
    path = tmp_path / "story.json"
    _write_json(path, _script(video_prompts=["a kite", "a kite \ud83d"]))
    with pytest.raises(StoryError, match=r"scene 1, shot 2, field 'video_prompts'.*lone surrogate"):
        load_story(path)
    for command in ("info", "render"):
        args = [command, str(path)] + (["--out", str(tmp_path / "out"), *TINY] if command == "render" else [])
        result = run_main(*args)
        assert result.returncode == 2 and "lone surrogate" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# --- 2. ids used as paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["../../x", "/abs/x", "a b", "", "x" * 65])
def test_unsafe_shot_ids_are_refused_on_load_and_cannot_name_a_folder(tmp_path, bad_id):
    data = _project_data()
    data["story"]["shots"][0]["id"] = bad_id
    _write_json(tmp_path / PROJECT_FILE, data)
    with pytest.raises(ProjectError, match="id"):
        load_project(tmp_path)
    project = Project(tmp_path, Story(name="s", shots=[Shot(prompt="p", id="shot-1")]))
    with pytest.raises(ProjectError):
        take_folder(project, bad_id, "take1")
    assert take_folder(project, "shot-1", "take1") == (tmp_path / "takes" / "shot-1" / "take1").resolve()


# --- 3. render --out ------------------------------------------------------------------------------------


def test_render_out_never_overwrites_a_folder_of_user_files(story_paths, tmp_path):
    folder = tmp_path / "holiday"
    folder.mkdir()
    (folder / "film.mp4").write_bytes(b"my film")
    result = run_main("render", str(story_paths["black"]), "--out", str(folder), *TINY)
    assert result.returncode == 2 and "not empty and is not a StoryMem project" in result.stderr
    assert (folder / "film.mp4").read_bytes() == b"my film" and sorted(os.listdir(folder)) == ["film.mp4"]
    for out in ("", "/"):
        result = run_main("render", str(story_paths["black"]), "--out", out, *TINY)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_render_out_refuses_a_project_of_another_story_unless_asked(story_paths, tmp_path, tiny_models):
    env = {"STORYMEM_CACHE": str(tiny_models.parent)}
    project = Project(tmp_path / "mine.storymem", Story(name="mine", shots=[
        Shot(prompt=f"shot {i}", cut=i == 0, notes="keep these notes") for i in range(4)]))
    project.save()
    before = (project.folder / PROJECT_FILE).read_text()
    result = run_main("render", str(story_paths["black"]), "--out", str(project.folder), *TINY, env=env)
    assert result.returncode == 2 and "--replace-story" in result.stderr
    assert "holds a different story (the project's is 'mine', the script's" in result.stderr
    assert (project.folder / PROJECT_FILE).read_text() == before


def test_a_prompt_edited_in_the_editor_is_named_as_the_difference(story_paths, tmp_path):
    """Same title, same shots: "another story" read as a contradiction; the message says what differs."""
    from storymem_engine.cli import CliError, check_out_folder
    from storymem_engine.story import load_story

    project = Project(tmp_path / "queen.storymem", load_story(story_paths["queen"]))
    project.story.shots[1].prompt += " (edited)"
    project.save()
    with pytest.raises(CliError) as refused:
        check_out_folder(str(project.folder), load_story(story_paths["queen"]), replace_story=False)
    assert "holds a different story (shot 2's prompt differs, edited in the editor or in the script)" in str(
        refused.value)
    assert "its takes stay" in str(refused.value)


# --- 4. one writer per project ---------------------------------------------------------------------------


def test_a_second_writer_is_told_the_project_is_busy(story_paths, tmp_path, tiny_models):
    out = tmp_path / "out"
    with writing(out):
        with pytest.raises(ProjectBusy):
            with writing(out):
                pass
        result = run_main("render", str(story_paths["black"]), "--out", str(out), *TINY,
                          env={"STORYMEM_CACHE": str(tiny_models.parent)})
        assert result.returncode == 2 and "being written by another render" in result.stderr
    assert sorted(os.listdir(out)) == [LOCK_FILE]  # nothing was written by the refused render
    with writing(out):  # released: the next writer gets it
        pass


# --- 5. malformed projects --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    '{"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "p", "scene_num": 1e999}]}}',
    "[" * 5000 + "]" * 5000,
    '{"schema": 1, "story": {"name": "p", "shots": []}, "settings": [1, 2]}',
    '{"schema": true, "story": {"name": "p"}}',
    '{"schema": -5, "story": {"name": "p"}}',
    '{"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "p", "seed": ' + "9" * 4400 + "}]}}",
    '{"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "p", "guidance": NaN}]}}',
    '{"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "p", "scene_num": 1.5}]}}',
    '{"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "p", "scene_num": true}]}}',
    '{"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "p", "scene_num": 0}]}}',
    '{"schema": 1, "story": {"name": "p", "shots": [{"id": "a", "prompt": "p", "frames": 0}]}}',
])
def test_malformed_projects_are_refused_with_the_projects_error(tmp_path, text):
    (tmp_path / PROJECT_FILE).write_text(text)
    with pytest.raises(ProjectError):
        load_project(tmp_path)


def test_a_clip_that_is_a_symlink_loop_is_refused(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    data = _project_data()
    data["story"]["shots"][0]["takes"] = [{"id": "t1", "clip": "loop/clip.mp4"}]
    _write_json(tmp_path / PROJECT_FILE, data)
    with pytest.raises(ProjectError):
        load_project(tmp_path)


@pytest.mark.parametrize(("clip", "said"), [
    ("takes/a\u0000b.mp4", "holds a NUL character"),
    ("a" * 5000, "has a name longer than a file system allows"),
    ("gone/clip.mp4", "goes through the link"),
    ("../../etc/passwd", "leaves the project folder"),
])
def test_a_take_path_no_file_call_could_take_is_refused_naming_the_file_shot_and_take(tmp_path, clip, said):
    (tmp_path / "gone").symlink_to("/nonexistent/folder")  # dangling, and outside the project
    data = _project_data()
    data["story"]["shots"][0]["takes"] = [{"id": "t1", "clip": clip}]
    _write_json(tmp_path / PROJECT_FILE, data)
    with pytest.raises(ProjectError) as raised:
        load_project(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / PROJECT_FILE}: shot 1, take 1: path ")
    assert said in str(raised.value) and len(str(raised.value)) < 400


def test_a_newer_autosave_with_an_impossible_number_is_refused(tmp_path):
    _write_json(tmp_path / PROJECT_FILE, _project_data())
    (tmp_path / AUTOSAVE_FILE).write_text(json.dumps(_project_data()).replace('"scene_num": 1', '"scene_num": -1e999'))
    with pytest.raises(ProjectError):
        load_project(tmp_path, AUTOSAVE_FILE)
    assert load_project(tmp_path).story.name == "p"


# --- 6. temp files of killed saves ------------------------------------------------------------------------


def test_stale_temp_files_of_killed_saves_are_removed_on_open_and_save(tmp_path):
    _write_json(tmp_path / PROJECT_FILE, _project_data())
    stale = tmp_path / f".{PROJECT_FILE}.abc123.tmp"
    fresh = tmp_path / f".{PROJECT_FILE}.def456.tmp"  # a save in progress right now: left alone
    other = tmp_path / ".notes.tmp"  # not our naming pattern: left alone
    for path in (stale, fresh, other):
        path.write_bytes(b"x" * 1000)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    project = load_project(tmp_path)
    assert not stale.exists() and fresh.exists() and other.exists()
    os.utime(fresh, (old, old))
    project.save()
    assert not fresh.exists() and other.exists()


# --- 7. CLI bounds ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "value"), [
    ("--seed", str(2**64)), ("--frames", "100001"), ("--size", "99984x99984"), ("--guidance", "nan"),
    ("--guidance", "inf"), ("--steps", "9" * 4300), ("--seed", "-1"), ("--max-memory", "100000"),
])
def test_out_of_range_flags_are_one_line_before_anything_loads(story_paths, tmp_path, flag, value):
    out = tmp_path / "out"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), *TINY, flag, value)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_clip_weights_that_are_not_clip_are_one_line(story_paths, tmp_path, tiny_models):
    text = tmp_path / "weights.txt"
    text.write_text("not a model")
    result = run_main("render", str(story_paths["black"]), "--out", str(tmp_path / "out"), *TINY,
                      "--clip-weights", str(text), env={"STORYMEM_CACHE": str(tiny_models.parent)})
    assert result.returncode == 1 and "CLIP" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) > 0


# --- 8. invalid input is refused, valid input kept as read -----------------------------------------------------


def test_null_overview_is_empty_not_the_text_none(tmp_path):
    path = tmp_path / "s.json"
    data = _script()
    data["story_overview"] = None
    _write_json(path, data)
    assert load_story(path).overview == ""


@pytest.mark.parametrize("scene_num", [1.5, True, "1", None, 1e999])
def test_scene_numbers_must_be_whole_numbers(tmp_path, scene_num):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_script(scene_num=scene_num)))
    with pytest.raises(StoryError, match="scene_num"):
        load_story(path)


def test_a_scene_that_opens_without_a_cut_keeps_it_on_export(tmp_path):
    path = tmp_path / "s.json"
    data = _script()
    data["scenes"].append({"scene_num": 2, "video_prompts": ["the same beach"], "first_frame_prompt": [""],
                           "cut": [False]})
    _write_json(path, data)
    story = load_story(path)
    assert [s.cut for s in story.shots] == [True, False, False]
    save_story(story, tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["scenes"][1]["cut"] == [False]
    assert story_to_script(load_story(tmp_path / "again.json")) == story_to_script(story)


# --- 9. only regular files, with a size cap --------------------------------------------------------------------


def test_info_refuses_a_fifo_and_a_device_without_hanging(tmp_path):
    fifo = tmp_path / "story.json"
    os.mkfifo(fifo)
    result = run_main("info", str(fifo), timeout=20)
    assert result.returncode == 2 and "not a regular file" in result.stderr
    result = run_main("info", "/dev/zero", timeout=20)
    assert result.returncode == 2 and "not a regular file" in result.stderr


def test_an_oversized_story_file_is_refused_unread(tmp_path):
    path = tmp_path / "big.json"
    with path.open("wb") as handle:
        handle.truncate(65 * 2**20)  # sparse: no disk used
    with pytest.raises(StoryError, match="MiB"):
        load_story(path)


# --- 10. saved files honour the umask ---------------------------------------------------------------------------


def test_saved_files_are_readable_as_an_ordinary_write_would_make_them(tmp_path):
    project = Project(tmp_path / "p.storymem", Story(name="s", shots=[Shot(prompt="p", id="shot-1")]))
    project.save()
    mask = os.umask(0o022)
    os.umask(mask)
    mode = stat.S_IMODE((project.folder / PROJECT_FILE).stat().st_mode)
    assert mode == 0o666 & ~mask


# --- 12. messages ----------------------------------------------------------------------------------------------


def test_the_models_check_and_the_lora_loader_agree_on_file_types(tmp_path):
    from storymem_engine.lora import find_lora_file
    from storymem_engine.models import lora_file

    (tmp_path / "backbone_high_noise.pt").write_bytes(b"")
    assert lora_file(tmp_path, "backbone_high_noise") is None
    assert find_lora_file(tmp_path, "backbone_high_noise") is None
    (tmp_path / "backbone_high_noise.pth").write_bytes(b"")
    assert lora_file(tmp_path, "backbone_high_noise") == find_lora_file(tmp_path, "backbone_high_noise")


def test_a_lora_full_of_nan_says_so(tmp_path):
    import torch

    from storymem_engine.lora import LoraError, _read_lora_file

    path = tmp_path / "backbone_high_noise.pth"
    torch.save({"base_model.model.blocks.0.self_attn.q.lora_A.weight": torch.full((4, 24), float("nan"))}, path)
    with pytest.raises(LoraError, match="NaN"):
        _read_lora_file(path)


def test_disk_full_names_the_file(tmp_path, monkeypatch):
    import errno

    from storymem_engine import atomic

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic.atomic_write_text(tmp_path / "project.json", "{}")
    assert info.value.filename == str(tmp_path / "project.json") and "No space" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


@pytest.mark.parametrize("alpha", ["many", "nan", "-1"])
def test_a_lora_with_a_bad_alpha_says_so(alpha):
    from storymem_engine.lora import LoraError, _metadata_alpha_and_rslora

    with pytest.raises(LoraError, match="lora_alpha"):
        _metadata_alpha_and_rslora({"lora_alpha": alpha})
