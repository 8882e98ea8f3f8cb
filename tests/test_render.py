"""`main.py render --engine tiny`: the whole StoryMem flow on tiny random-weight models."""

import json
import re

import numpy as np
import pytest
from conftest import run_main, two_shot_script

from storymem_engine.video import probe_video, read_video

TINY = ["--engine", "tiny", "--size", "64x48", "--frames", "9", "--steps", "2"]


@pytest.fixture(scope="module")
def cache_env(tiny_models):
    # The CLI finds the tiny models through STORYMEM_CACHE/<TINY_VERSION>: point it at the session's build.
    return {"STORYMEM_CACHE": str(tiny_models.parent)}


@pytest.fixture(scope="module")
def tiny_env(tmp_path_factory, tiny_models):
    import os
    import shutil

    from storymem_engine.tiny import TINY_VERSION

    cache = tmp_path_factory.mktemp("cache")
    shutil.copytree(tiny_models, cache / TINY_VERSION)
    return {"STORYMEM_CACHE": str(cache), "PATH": os.environ.get("PATH", "")}


@pytest.fixture(scope="module")
def queen_render(tmp_path_factory, story_paths, tiny_env):
    out = tmp_path_factory.mktemp("render") / "queen"
    result = run_main("render", str(story_paths["queen"]), "--out", str(out), *TINY, env=tiny_env)
    assert result.returncode == 0, result.stderr
    return out, result


def test_render_makes_a_playable_h264_film_with_the_81_80_76_rule(queen_render):
    out, result = queen_render
    info = probe_video(out / "film.mp4")
    assert (info.codec, info.pix_fmt, info.faststart, info.fps) == ("h264", "yuv420p", True, 16.0)
    # queen cuts: T F T F T F T -> t2v, mi2v, m2v, mi2v, m2v, mi2v, m2v; MI2V drops its first frame.
    assert info.frames == 9 + 8 + 9 + 8 + 9 + 8 + 9
    assert (info.width, info.height) == (64, 48)
    assert "random-weight" in result.stderr


def test_manifest_modes_follow_the_cuts_and_memory_grows(queen_render):
    out, _ = queen_render
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["random_weights"] is True
    shots = manifest["shots"]
    assert [s["mode"] for s in shots] == ["t2v", "mi2v", "m2v", "mi2v", "m2v", "mi2v", "m2v"]
    assert [s["seed"] for s in shots] == list(range(7))  # one scene: seed + index within it
    assert manifest["film_frames"] == sum(s["frames"] for s in shots)
    assert {s["seed_rule"] for s in shots} == {"scene"}
    # Keyframes were picked with the tiny engine's CLIP, and the takes say so.
    assert all(s["backends"]["similarity"] == "clip-vit-b-32" and s["keyframe_note"] == "" for s in shots)
    assert shots[0]["memory"] == []
    sizes = [len(s["memory"]) for s in shots[1:]]
    assert all(0 < n <= 10 for n in sizes) and sizes == sorted(sizes)
    for shot in shots:
        assert probe_video(out / shot["clip"]).frames == shot["frames"]
        assert shot["on_the_film"] == [0, shot["frames"]]  # untrimmed: the whole take
        for key in shot["keyframes"]:
            assert (out / key).is_file()
        # Memory of a shot is made of keyframes of earlier shots only.
        earlier = {k for s in shots[: shot["index"]] for k in s["keyframes"]}
        assert set(shot["memory"]) <= earlier


def test_rerun_skips_shots_whose_takes_exist_and_its_film_keeps_the_editors_trim(queen_render, story_paths, tiny_env):
    out, _ = queen_render
    before = json.loads((out / "manifest.json").read_text())
    # Shot 1's take trimmed in the editor to its frames 3..7 (counted from 1): a trim turns nothing stale.
    project = json.loads((out / "project.json").read_text())
    take = project["story"]["shots"][0]["takes"][0]
    take["trim_in"], take["trim_out"] = 2, 7
    (out / "project.json").write_text(json.dumps(project))
    result = run_main("render", str(story_paths["queen"]), "--out", str(out), *TINY, env=tiny_env)
    assert result.returncode == 0, result.stderr
    after = json.loads((out / "manifest.json").read_text())
    assert [s["take_id"] for s in after["shots"]] == [s["take_id"] for s in before["shots"]]
    assert all(s["skipped"] for s in after["shots"])
    assert "(0 generated)" in result.stderr
    assert after["shots"][0]["on_the_film"] == [2, 7]
    assert after["film_frames"] == before["film_frames"] - (before["shots"][0]["frames"] - 5)
    assert probe_video(out / "film.mp4").frames == after["film_frames"]


def test_a_rerun_keeps_what_the_editor_set_on_each_shot(queen_render, story_paths, tiny_env, tmp_path):
    import shutil

    out = tmp_path / "queen"
    shutil.copytree(queen_render[0], out)
    project = json.loads((out / "project.json").read_text())
    first, last = project["story"]["shots"][0], project["story"]["shots"][-1]
    first.update(notes="crane in from the balcony", shot_size="wide", camera_move="dolly in", duration_s=2.5,
                 seed_locked=True)
    last["seed"] = 77  # its own seed: the take was made with another, so the rerun makes it again with this one
    (out / "project.json").write_text(json.dumps(project))
    result = run_main("render", str(story_paths["queen"]), "--out", str(out), *TINY, env=tiny_env)
    assert result.returncode == 0, result.stderr
    shots = json.loads((out / "project.json").read_text())["story"]["shots"]
    assert (shots[0]["notes"], shots[0]["shot_size"], shots[0]["camera_move"], shots[0]["duration_s"],
            shots[0]["seed_locked"]) == ("crane in from the balcony", "wide", "dolly in", 2.5, True)
    assert shots[-1]["seed"] == 77
    made = next(t for t in shots[-1]["takes"] if t["id"] == shots[-1]["accepted_take"])
    assert made["request"]["seed"] == 77 and "(1 generated)" in result.stderr


def test_a_rerun_plays_the_soundtrack_set_in_the_editor_and_refuses_a_missing_one_first(queen_render, story_paths,
                                                                                         tiny_env):
    import wave

    out, _ = queen_render
    saved = (out / "project.json").read_text()
    (out / "music").mkdir(exist_ok=True)
    with wave.open(str(out / "music" / "m1.wav"), "wb") as song:  # 20 s of a quiet hum, longer than the film
        song.setnchannels(1)
        song.setsampwidth(2)
        song.setframerate(8000)
        song.writeframes((np.sin(np.arange(160_000) / 3) * 8000).astype("<i2").tobytes())
    project = json.loads(saved)
    project["story"]["soundtrack"] = {"file": "music/m1.wav", "name": "Hum.wav", "start_s": 1.0, "gain_db": -3.0}
    (out / "project.json").write_text(json.dumps(project))
    try:
        result = run_main("render", str(story_paths["queen"]), "--out", str(out), *TINY, env=tiny_env)
        assert result.returncode == 0, result.stderr
        film = out / "film.mp4"
        import av

        with av.open(str(film)) as container:
            (audio,) = container.streams.audio
            assert (audio.codec_context.name, audio.rate, audio.channels) == ("aac", 48000, 2)
        assert json.loads((out / "project.json").read_text())["story"]["soundtrack"]["name"] == "Hum.wav"

        before = film.read_bytes()
        (out / "music" / "m1.wav").unlink()  # moved away: the rerun says so before it renders anything
        result = run_main("render", str(story_paths["queen"]), "--out", str(out), *TINY, env=tiny_env)
        assert result.returncode == 2
        assert "the project's soundtrack Hum.wav (music/m1.wav)" in result.stderr
        assert "File > Soundtrack" in result.stderr and "Traceback" not in result.stderr
        assert film.read_bytes() == before
    finally:
        (out / "project.json").write_text(saved)


def test_a_rerun_without_options_renders_at_the_projects_own_settings(queen_render, story_paths, tiny_env):
    """The size, frames and steps a project was rendered with are saved in it: a rerun that leaves them out (or
    the editor) keeps them instead of falling back to 832x480 / 81 / 40 and regenerating every shot."""
    out, _ = queen_render
    saved = json.loads((out / "project.json").read_text())["settings"]
    assert (saved["width"], saved["height"], saved["frames"], saved["steps"]) == (64, 48, 9, 2)
    result = run_main("render", str(story_paths["queen"]), "--out", str(out), "--engine", "tiny", env=tiny_env)
    assert result.returncode == 0, result.stderr
    assert "Settings: 64x48, 9 frames, 2 steps" in result.stderr and "(0 generated)" in result.stderr
    assert json.loads((out / "project.json").read_text())["settings"] == saved


def test_mm2v_continuation_drops_five_frames_and_memory_respects_max(tmp_path, story_paths, tiny_env):
    out = tmp_path / "black"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), *TINY,
                      "--continuation", "mm2v", "--max-memory", "2", "--fix", "1", env=tiny_env)
    assert result.returncode == 0, result.stderr
    shots = json.loads((out / "manifest.json").read_text())["shots"]
    # black cuts: T F T F T T F T
    assert [s["mode"] for s in shots] == ["t2v", "mm2v", "m2v", "mm2v", "m2v", "m2v", "mm2v", "m2v"]
    assert [s["frames"] for s in shots] == [9, 4, 9, 4, 9, 9, 4, 9]
    assert max(len(s["memory"]) for s in shots) <= 2
    assert probe_video(out / "film.mp4").frames == 57
    # The continuation is the project's (the editor opens it with the MM2V LoRA): a rerun without the option
    # keeps it and makes nothing again.
    assert json.loads((out / "project.json").read_text())["settings"]["continuation"] == "mm2v"
    again = run_main("render", str(story_paths["black"]), "--out", str(out), "--engine", "tiny", env=tiny_env)
    assert again.returncode == 0, again.stderr
    assert "continuation mm2v" in again.stderr and "(0 generated)" in again.stderr
    from storymem_engine.render_settings import RenderSettings
    from storymem_engine.story import StoryError

    with pytest.raises(StoryError, match="settings, continuation: 'mx2v' is not one of mi2v, mm2v"):
        RenderSettings.from_dict({"continuation": "mx2v"})  # a hand-edited project.json is named, not loaded


def test_mr2v_first_shot_uses_reference_images_as_memory(tmp_path, story_paths, tiny_env):
    from PIL import Image

    ref = tmp_path / "hero.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)).save(ref)
    story = tmp_path / "two.json"
    story.write_text(json.dumps({"story_name": "two", "story_overview": "", "scenes": [
        {"scene_num": 1, "video_prompts": ["a hero", "the hero walks"], "first_frame_prompt": ["", ""],
         "cut": [True, False]}]}))
    out = tmp_path / "mr2v"
    result = run_main("render", str(story), "--out", str(out), *TINY, "--first-shot", "m2v",
                      "--reference", str(ref), env=tiny_env)
    assert result.returncode == 0, result.stderr
    shots = json.loads((out / "manifest.json").read_text())["shots"]
    assert [s["mode"] for s in shots] == ["m2v", "mi2v"]
    (copied,) = (out / "references").iterdir()  # named by its content: another image never replaces it
    assert copied.name.startswith("reference_0_") and copied.read_bytes() == ref.read_bytes()
    assert shots[0]["memory"] == [f"references/{copied.name}"]
    # About the area of 64x48 at the aspect of the first memory image (2:1), sides multiples of 16; and said.
    assert shots[0]["size"] == [64, 32]
    assert ("Size: 64x32, the area of 64x48 at the aspect of hero.png (128x64), as the official M2V run sizes its "
            "shots") in result.stderr
    assert read_video(out / "film.mp4").shape[0] == 9 + 8
    # A rerun given the copy itself keeps everything; one given another image makes the shots again from it, and
    # the image the first takes were made from stays beside it.
    again = run_main("render", str(story), "--out", str(out), *TINY, "--first-shot", "m2v", "--reference",
                     str(copied), env=tiny_env)
    assert again.returncode == 0 and "(0 generated)" in again.stderr, again.stderr
    other = tmp_path / "villain.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 128, 3), dtype=np.uint8)).save(other)
    again = run_main("render", str(story), "--out", str(out), *TINY, "--first-shot", "m2v", "--reference",
                     str(other), env=tiny_env)
    assert again.returncode == 0 and "(2 generated)" in again.stderr, again.stderr
    assert copied.read_bytes() == ref.read_bytes() and len(list((out / "references").iterdir())) == 2


def test_model_free_keyframes_only_when_asked_and_every_take_says_so(tmp_path, story_paths, tiny_env):
    out = tmp_path / "black"
    result = run_main("render", str(story_paths["black"]), "--out", str(out), *TINY, "--keyframe-similarity", "hsv",
                      "--seed", "10", env=tiny_env)
    assert result.returncode == 0, result.stderr
    assert "without CLIP" in result.stderr
    shots = json.loads((out / "manifest.json").read_text())["shots"]
    assert all(s["backends"]["similarity"] == "hsv-patch" for s in shots)
    assert all(s["keyframe_note"] == "keyframes picked without CLIP (hsv-patch)" for s in shots)
    # black has scenes of 2, 3 and 3 shots: seed + index within the scene, as the official script.
    assert [s["seed"] for s in shots] == [10, 11, 10, 11, 12, 10, 11, 12]


def test_a_rerun_says_why_each_shot_is_generated_again(tmp_path, story_paths, tiny_env):
    out = tmp_path / "black"
    assert run_main("render", str(story_paths["black"]), "--out", str(out), *TINY, env=tiny_env).returncode == 0
    shots = json.loads((out / "manifest.json").read_text())["shots"]
    (out / shots[1]["clip"]).unlink()
    (out / shots[3]["clip"]).write_bytes(b"")  # cut off at its start: no longer skipped, then refused by the film
    # Written over, or cut off in the middle: a rerun stopped at the film or the next shot's memory, every time.
    (out / shots[5]["clip"]).write_bytes(b"not a video" * 100)
    cut = out / shots[7]["clip"]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size * 3 // 4])  # its first frames still decode
    keyframe = out / shots[0]["keyframes"][0]
    keyframe.write_bytes(keyframe.read_bytes()[: keyframe.stat().st_size // 2])
    result = run_main("render", str(story_paths["black"]), "--out", str(out), *TINY, env=tiny_env)
    assert result.returncode == 0, result.stderr
    assert f"shot 2/8: generating again, its file {shots[1]['clip']} is missing or empty" in result.stderr
    assert f"shot 4/8: generating again, its file {shots[3]['clip']} is missing or empty" in result.stderr
    assert (f"shot 1/8: generating again, its file {shots[0]['keyframes'][0]} cannot be read (image file is "
            "truncated") in result.stderr
    assert (f"shot 6/8: generating again, its file {shots[5]['clip']} cannot be read (Invalid data found when "
            "processing input)") in result.stderr
    assert re.search(rf"shot 8/8: generating again, its file {shots[7]['clip']} cannot be read \(cut off: it holds "
                     rf"\d of its {shots[7]['frames']} frames\)", result.stderr)
    assert read_video(out / "film.mp4").shape[0] == sum(s["frames"] for s in shots)
    again = json.loads((out / "manifest.json").read_text())["shots"]
    assert again[1]["seed"] == shots[1]["seed"] and again[1]["seed_rule"] == "scene"  # a rerun reproduces
    assert "shot 3/8: generating again, the memory it would get changed" in result.stderr or \
        "shot 3/8 kept" in result.stderr


def test_a_rerun_accepts_again_a_take_that_matches_instead_of_making_its_twin(tmp_path, tiny_env):
    """An older take accepted in the editor, then a render at the settings of a newer take: that newer take is
    accepted again (nothing generated, no duplicate take), and the log says so."""
    from storymem_engine.project import load_project

    script, out = two_shot_script(tmp_path, second_is_cut=True), tmp_path / "two"
    assert run_main("render", str(script), "--out", str(out), *TINY, env=tiny_env).returncode == 0
    first = [shot.accepted_take for shot in load_project(out).story.shots]
    assert run_main("render", str(script), "--out", str(out), *TINY, "--seed", "5", env=tiny_env).returncode == 0
    project = load_project(out)
    for shot, take_id in zip(project.story.shots, first, strict=True):
        shot.accepted_take = take_id  # as Accept take on the older take does in the editor
    project.save()
    result = run_main("render", str(script), "--out", str(out), *TINY, "--seed", "5", env=tiny_env)
    assert result.returncode == 0, result.stderr
    for number in (1, 2):
        assert (f"shot {number}/2 kept: its take 2 matches these settings and is accepted again (nothing "
                "generated)") in result.stderr
    again = load_project(out).story.shots
    assert [len(shot.takes) for shot in again] == [2, 2]
    assert [shot.accepted_take for shot in again] == [shot.takes[1].id for shot in again]
    assert "generating again" not in result.stderr
