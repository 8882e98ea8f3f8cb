"""``main.py export``: every format from a project folder, no overwrite without --force, and bad input as one
``error:`` line with exit status 2, never a traceback."""

from __future__ import annotations

import csv
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the qapp fixture's QApplication, on a machine without a display
import subprocess
import sys
from contextlib import nullcontext

import opentimelineio as otio
import pytest
from conftest import ROOT, run_main
from handoff_projects import add_take, make_project

from main import main as app_main


@pytest.fixture
def project(tmp_path):
    project = make_project(tmp_path / "Kite.storymem", shots=5)
    add_take(project, 0, 9)
    add_take(project, 3, 9)
    project.save()
    return project


def _error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_timeline_and_csv_formats_in_process(project, tmp_path, capsys):
    from PySide6.QtGui import QGuiApplication

    before = QGuiApplication.instance()
    for fmt, suffix in (("otio", "otio"), ("fcp7", "xml"), ("fcpx", "fcpxml"), ("edl", "edl")):
        out = tmp_path / f"cut.{suffix}"
        assert app_main(["export", str(project.folder), "--format", fmt, "--out", str(out)]) == 0, fmt
        said = capsys.readouterr().out
        gaps = 2 if fmt in ("fcp7", "edl") else 3  # the gap after the last clip is not in those files
        assert f"wrote {out} (2 clips, {gaps} gaps, 0 cards)" in said
        # What the file cannot say itself: its 48 fps count, and shot 5 (no take) after the last clip, which the
        # FCP 7 and EDL writers drop (OpenTimelineIO's file and the FCP X spine keep it as a gap: not said of them).
        assert ("timed at 48 fps (3 ticks per 16 fps frame): open it at 48 fps" in said) == (fmt in ("fcp7", "edl"))
        assert ("shot 5 without a take at the end is not in it" in said) == (fmt in ("fcp7", "edl"))
        if fmt == "fcpx":  # the spine ends with shot 5's gap
            spine = out.read_text().split("<spine>")[1].split("</spine>")[0].strip().splitlines()
            assert spine[-1].strip().startswith('<gap name="Gap" duration="1/2s" offset="17/8s"')
    timeline = otio.adapters.read_from_file(str(tmp_path / "cut.otio"))
    assert [i.name for i in timeline.video_tracks()[0]][:2] == ["Shot 1 - Take 1", "Shot 2 - no take"]

    out = tmp_path / "shots.csv"
    assert app_main(["export", str(project.folder), "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    # shot 4 was made from a memory the story no longer holds (the test take names a made-up key): stale
    assert [r["status"] for r in rows] == ["done", "empty", "empty", "stale", "empty"]
    assert rows[0]["seconds"] == "0.562" and rows[0]["shot_size"] == "wide"
    # A clip gone says so as the app's card does (it said "True").
    (project.folder / project.story.shots[0].accepted().clip).unlink()
    assert app_main(["export", str(project.folder), "--format", "csv", "--out", str(out), "--force"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["status"] for r in rows] == ["missing", "empty", "empty", "stale", "empty"]
    # Plain timelines and the CSV paint nothing: no Qt application (the UI tests later need a QApplication).
    assert QGuiApplication.instance() is before


def test_never_overwrites_without_force(project, tmp_path, capsys):
    out = tmp_path / "cut.otio"
    out.write_text("an editor's timeline")
    assert app_main(["export", str(project.folder), "--format", "otio", "--out", str(out)]) == 2
    assert "exists; pass --force to replace it" in _error_line(capsys)
    assert out.read_text() == "an editor's timeline"
    assert app_main(["export", str(project.folder), "--format", "otio", "--out", str(out), "--force"]) == 0
    assert out.read_text().startswith("{")


def test_bad_input_is_one_error_line_and_exit_2(project, tmp_path, capsys):
    out = str(tmp_path / "x.otio")
    cases = {
        "not a project folder": [str(tmp_path / "nowhere"), "--format", "otio", "--out", out],
        "no project.json": [str(tmp_path), "--format", "otio", "--out", out],
        "invalid choice": [str(project.folder), "--format", "mov", "--out", out],
        "required: --out": [str(project.folder), "--format", "otio"],
        "folder": [str(project.folder), "--format", "otio", "--out", str(tmp_path / "no" / "x.otio")],
        "--burn-in is for --format mp4, not otio: it would be left out": [
            str(project.folder), "--format", "otio", "--out", out, "--burn-in"],
        "--layout is for --format pdf, not mp4": [str(project.folder), "--format", "mp4", "--out", str(tmp_path / "f"),
                                                  "--layout", "portrait"],
        "--collect-media is for --format otio / fcp7 / fcpx / edl, not pdf": [
            str(project.folder), "--format", "pdf", "--out", str(tmp_path / "b"), "--collect-media"],
        f"{out} is named as otio, but --format is mp4: name it x.mp4, or choose --format otio": [
            str(project.folder), "--format", "mp4", "--out", out],
    }
    for expected, argv in cases.items():
        with pytest.raises(SystemExit) if expected in ("invalid choice", "required: --out") else nullcontext():
            assert app_main(["export", *argv]) == 2
        assert expected in _error_line(capsys), expected

    (project.folder / "project.json").write_text('{"schema": 1, "story": {"name": "x", "shots": [42]}')
    assert app_main(["export", str(project.folder), "--format", "pdf", "--out", str(tmp_path / "x.pdf")]) == 2
    assert "not valid JSON" in _error_line(capsys)
    (project.folder / "project.json").write_text('{"schema": 1, "story": {"name": "x", "shots": [42]}}')
    assert app_main(["export", str(project.folder), "--format", "edl", "--out", str(tmp_path / "x.edl")]) == 2
    assert "expected an object" in _error_line(capsys)
    assert not (tmp_path / "x.otio").exists()


def test_missing_take_is_one_error_line(project, tmp_path, capsys):
    (project.folder / project.story.shots[3].accepted().clip).unlink()
    for fmt in ("otio", "fcp7", "edl", "fcpx"):
        assert app_main(["export", str(project.folder), "--format", fmt, "--out", str(tmp_path / "x")]) == 2
        assert "shot 4: the accepted take's clip takes/shot-0004/take1/clip.mp4 is missing" in _error_line(capsys)
    assert not (tmp_path / "x").exists()


def test_film_and_pdf_as_a_user_runs_them_without_torch(project, tmp_path):
    """A real process: the PDF and the film paint with Qt offscreen, and nothing imports torch."""
    film, pdf = tmp_path / "film.mp4", tmp_path / "board.pdf"
    code = ("import sys, main\n"
            f"a = main.main(['export', {str(project.folder)!r}, '--format', 'mp4', '--out', {str(film)!r},"
            " '--burn-in'])\n"
            f"b = main.main(['export', {str(project.folder)!r}, '--format', 'pdf', '--out', {str(pdf)!r},"
            " '--layout', 'portrait', '--page-size', 'Letter'])\n"
            "print('torch' in sys.modules, a, b)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False 0 0", done.stdout
    # 9 + 8 + 8 + 9 + 8; the shots without a take are said to be cards, as the timelines count their gaps.
    assert f"wrote {film} (42 frames at 16 fps); shots 2–3, 5 are animatic cards (no accepted take yet)" in done.stdout
    from storyboard.frames import decode_clip

    first = decode_clip(film, limit=1)[0]
    assert first[-8:, :24].mean() > first[:8, :24].mean() + 20  # the review label, bottom left (light on dark)
    assert f"wrote {pdf} (2 pages)" in done.stdout
    from pypdf import PdfReader

    page = PdfReader(str(pdf)).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx((612, 792), abs=1)

    again = run_main("export", str(project.folder), "--format", "pdf", "--out", str(pdf))
    assert again.returncode == 2 and again.stderr.strip() == f"error: {pdf} exists; pass --force to replace it"


def test_a_film_export_shows_it_is_alive_on_stderr_and_keeps_stdout_for_the_result(project, tmp_path, capsys,
                                                                                   monkeypatch, qapp):
    """In process, with the QApplication the UI tests share (``qapp``): the export paints its cards with it rather
    than making a QGuiApplication, after which no QApplication could be made in this process."""
    from storyboard import export_cli

    monkeypatch.setattr(export_cli._FilmProgress, "EVERY_S", 0.0)  # a line per frame here; every 10 s in use
    film = tmp_path / "film.mp4"
    assert app_main(["export", str(project.folder), "--format", "mp4", "--out", str(film)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"wrote {film} (42 frames at 16 fps)")
    lines = captured.err.splitlines()
    assert lines[0].startswith("writing frame 1/42 (") and lines[-1].startswith("writing frame 41/42 (")


def test_export_never_replaces_the_project_file_even_with_force(project, capsys):
    out = project.folder / "project.json"
    saved = out.read_bytes()
    assert app_main(["export", str(project.folder), "--format", "mp4", "--out", str(out), "--force"]) == 2
    assert _error_line(capsys) == f"error: {out} is a StoryMem project's own file; --out names another file"
    assert out.read_bytes() == saved
    clip = project.folder / next(s.accepted() for s in project.story.shots if s.accepted()).clip
    taken = clip.read_bytes()  # nor one of its takes: the shot was left DAMAGED
    assert app_main(["export", str(project.folder), "--format", "mp4", "--out", str(clip), "--force"]) == 2
    assert _error_line(capsys) == f"error: {clip} is a StoryMem project's own file; --out names another file"
    assert clip.read_bytes() == taken
