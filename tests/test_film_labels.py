"""The film's labels (storymem_engine.film_labels): drawn without Qt, the same on every run, and a render's film
labels its draft takes as File > Export and ``main.py export`` do."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, TINY_RENDER, run_main, two_shot_script

from storymem_engine.film_labels import BOX_ALPHA, draft_stamp, stamped, text_stamp
from storymem_engine.project import load_project
from storymem_engine.video import read_video


def _amber(pixels: np.ndarray) -> np.ndarray:
    pixels = pixels.astype(int)
    return (pixels[..., 0] > 150) & (pixels[..., 1] > 100) & (pixels[..., 2] < 90)


def test_labels_are_drawn_without_qt_and_the_same_every_time():
    code = (
        "import sys, hashlib\n"
        "from storymem_engine.film_labels import draft_stamp, text_stamp\n"
        "rgb, alpha = draft_stamp(832, 480)\n"
        "more = text_stamp('SHOT 3 · TAKE 2 · 00:00:05:03', 256, 160, '#f4f4f5', 300)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6')]\n"
        "assert not bad, bad\n"
        "print(hashlib.sha256(rgb.tobytes() + alpha.tobytes() + more[0].tobytes()).hexdigest())\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout  # pixel for pixel


@pytest.mark.parametrize(("width", "height", "box"), [(64, 48, (10, 57)), (256, 160, (10, 70)),
                                                      (832, 480, (30, 210))])
def test_the_draft_label_is_an_amber_text_on_a_dark_box_scaled_with_the_frame(width, height, box):
    rgb, alpha = draft_stamp(width, height)
    assert rgb.shape == (*box, 3) and alpha.shape == (*box, 1)
    assert rgb.dtype == np.float32 and alpha.dtype == np.float32
    assert alpha.min() == pytest.approx(BOX_ALPHA) and alpha.max() <= 1.0  # the box shows the picture through it
    assert rgb.min() >= 0 and rgb.max() <= 255
    grey = np.full((height, width, 3), 128, np.uint8)
    out = stamped(grey, (rgb, alpha))
    assert (out[box[0]:] == 128).all() and (out[:, box[1]:] == 128).all()  # only the top-left corner
    assert out[: box[0], : box[1]].mean() < 100  # dark behind the text
    assert _amber(out[: box[0], : box[1]]).sum() >= 10  # the amber text
    bottom = stamped(grey, (rgb, alpha), bottom=True)
    assert (bottom[: height - box[0]] == 128).all() and _amber(bottom[height - box[0]:]).any()


def test_a_long_label_grows_its_box_up_to_the_frame_and_starts_at_the_left():
    text = "SHOT 3 · TAKE 2 · 00:00:05:03"
    rgb, alpha = text_stamp(text, 832, 480, "#f4f4f5", 100)
    assert rgb.shape[1] > 100  # wider than asked: the text needs it
    rgb, alpha = text_stamp(text, 64, 48, "#f4f4f5", 300)
    assert alpha.shape[:2] == (10, 64)  # no wider than the frame
    text_columns = np.flatnonzero((alpha[..., 0] > 0.9).any(axis=0))
    assert text_columns[0] <= 3  # cut at the right, its start reads


def test_a_draft_render_labels_every_frame_of_its_film_as_export_does(tmp_path, tiny_cli_env):
    script = two_shot_script(tmp_path, second_is_cut=False)
    out = tmp_path / "two.storymem"
    result = run_main("render", str(script), "--out", str(out), *TINY_RENDER, "--profile", "draft",
                      env=tiny_cli_env)
    assert result.returncode == 0, result.stderr
    project = load_project(out)
    takes = [shot.accepted() for shot in project.story.shots]
    assert all(t.request["profile"] == "draft" for t in takes)
    clips = np.concatenate([read_video(project.resolve(t.clip)) for t in takes]).astype(int)
    film = read_video(out / "film.mp4").astype(int)
    assert film.shape == clips.shape  # 64x48
    h, w = draft_stamp(64, 48)[1].shape[:2]
    # Every frame: the label over the top-left corner, the picture below it as the takes made it.
    corner = np.abs(film[:, :h, :w] - clips[:, :h, :w]).mean(axis=(1, 2, 3))
    assert corner.min() > 20
    assert _amber(film[:, :h, :30]).sum(axis=(1, 2)).min() > 0
    assert np.abs(film[:, 16:] - clips[:, 16:]).mean() < 3

    # The same film as `main.py export` (File > Export film) makes of the project.
    exported = tmp_path / "export.mp4"
    result = run_main("export", str(out), "--format", "mp4", "--out", str(exported))
    assert result.returncode == 0, result.stderr
    assert np.abs(read_video(exported).astype(int) - film).mean() < 1
