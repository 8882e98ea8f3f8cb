"""The first hour on the command line: help that lists every command, clear words for a wrong folder or no display."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT, run_main, two_shot_script


def test_main_help_lists_the_headless_commands():
    result = run_main("--help")
    assert result.returncode == 0
    assert "main.py info STORY.json" in result.stdout and "main.py render STORY.json --out DIR" in result.stdout
    assert "main.py export PROJECT --format F --out FILE" in result.stdout


def test_render_help_gives_each_options_meaning_and_default():
    result = run_main("render", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for words in ("denoising steps per shot (default: 40;", "classifier-free guidance scale (both experts) "
                  "(default: 3.5;", "(default: auto;", "story seed (default: 0;", "WxH (default: 832x480;",
                  "keep UMT5 on the CPU (saves VRAM) (default: off;", "that project's setting)"):
        assert words in text, words


def test_a_models_folder_that_does_not_exist_says_so(story_paths, tmp_path):
    result = run_main("render", str(story_paths["black"]), "--out", str(tmp_path / "out"), "--models",
                      str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "No such folder: " in result.stderr and "nowhere." in result.stderr
    assert "missing" not in result.stderr.lower()
    a_file = tmp_path / "models.zip"
    a_file.write_bytes(b"PK")
    result = run_main("render", str(story_paths["black"]), "--out", str(tmp_path / "out"), "--models", str(a_file))
    assert result.returncode == 2 and "models.zip is a file, not a folder" in result.stderr


def test_no_display_is_one_line_that_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no display found" in result.stderr and "xvfb-run" in result.stderr


def test_the_tiny_engine_check_the_install_hint_points_to_runs_in_seconds_not_minutes(tmp_path, tiny_cli_env):
    import json

    from storymem_engine.project import load_project

    script = two_shot_script(tmp_path, second_is_cut=True)
    assert "or try --engine tiny" in run_main("render", str(script), "--out", str(tmp_path / "x")).stderr
    # What that hint leads to: settings left at the production defaults run at the editor's draft settings...
    result = run_main("render", str(script), "--out", str(tmp_path / "check"), "--engine", "tiny", "--frames", "9",
                      env=tiny_cli_env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Settings: 128x80, 9 frames, 4 steps" in result.stderr  # ...except what was given (--frames 9)
    # Only the values drafted are named (--frames 9 was given: not "draft settings ... 9 frames").
    assert "Tiny engine: draft values where you gave none (128x80, 4 steps)" in result.stderr
    manifest = json.loads((tmp_path / "check" / "manifest.json").read_text())
    assert [shot["size"] for shot in manifest["shots"]] == [[128, 80], [128, 80]]
    # The project keeps the settings as asked: a later render with the real models is not a 128x80 one.
    settings = load_project(tmp_path / "check").settings
    assert (settings.width, settings.height, settings.frames, settings.steps) == (832, 480, 9, 40)
