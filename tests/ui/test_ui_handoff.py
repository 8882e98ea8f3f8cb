"""File > Export timeline / storyboard from the window: every format in the menu, options, animatic card clips,
the PDF's pages and text layer (pypdf), long text continued and never cut, 1,000 shots, overwrite and cancel;
the inspector's shot size, camera move and duration."""

from __future__ import annotations

import math
import re
import unicodedata

import opentimelineio as otio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from PySide6.QtWidgets import QProgressDialog
from ui_helpers import add_take

from storyboard import export_options
from storyboard.pdf_storyboard import PdfOptions, export_pdf, page_count
from storyboard.timeline_export import TimelineOptions
from storymem_engine.atomic import FILE_MODE
from storymem_engine.project import Project
from storymem_engine.story import Shot, Story
from storymem_engine.video import probe_video

TIMELINE_ACTIONS = {"export_otio": ".otio", "export_fcp7": ".xml", "export_fcpx": ".fcpxml", "export_edl": ".edl"}


@pytest.fixture
def saved(window, recorded_dialogs, tmp_path):
    recorded_dialogs.paths.append(str(tmp_path / "board"))
    assert window.files.save_as()
    project = window.project
    add_take(project, 0, frames=9)
    add_take(project, 2, frames=13)
    for shot in project.story.shots:
        shot.duration_s = 0.5  # 8-frame cards keep card encoding fast
    # Scripts the bundled-everywhere DejaVu font covers: CJK and emoji need a system font with those glyphs.
    project.story.shots[1].prompt = "Ünïcode «prompt» Ελληνικά кириллица — efficient fjord flight"
    window.model.refresh_all()
    return project


def _text(reader: PdfReader, page: int) -> str:
    # pypdf reads the word gaps as tabs; NFKC folds any ligature a font might still use.
    return " ".join(unicodedata.normalize("NFKC", reader.pages[page].extract_text()).split())


def test_file_menu_offers_every_export(window):
    file_menu = window.menuBar().actions()[0].menu()
    texts = []
    for action in file_menu.actions():
        texts.append(action.text())
        if action.menu() is not None:
            texts += [a.text() for a in action.menu().actions()]
    for name in ("export_film", "export_csv", "export_pdf", *TIMELINE_ACTIONS):
        assert window.actions_by_name[name].text() in texts, name
    assert "Export &timeline" in texts


@pytest.mark.parametrize("name", list(TIMELINE_ACTIONS))
def test_timeline_from_the_menu_with_animatic_cards(window, saved, recorded_dialogs, tmp_path, monkeypatch, name):
    fmt = name.removeprefix("export_")
    monkeypatch.setattr(export_options, "ask_timeline_options", lambda _w, f: TimelineOptions(f, "card", False))
    recorded_dialogs.paths.append(str(tmp_path / "cut"))  # the suffix is added
    window.actions_by_name[name].trigger()
    assert recorded_dialogs.messages == []
    out = tmp_path / f"cut{TIMELINE_ACTIONS[name]}"
    from storyboard.timeline_export import read_timeline

    track = read_timeline(out).video_tracks()[0]
    names = [item.name for item in track]
    assert names == ["Shot 1 - Take 1", "Shot 2 - Animatic card", "Shot 3 - Take 1", "Shot 4 - Animatic card",
                     "Shot 5 - Animatic card", "Shot 6 - Animatic card"], fmt
    assert [round(i.duration().to_seconds() * 16) for i in track] == [9, 8, 13, 8, 8, 8]
    cards = sorted((tmp_path / "cut_media").glob("card_shot*.mp4"))
    assert len(cards) == 4
    info = probe_video(cards[0])
    assert (info.codec, info.frames, info.fps) == ("h264", 8, 16)
    assert "4 cards" in window.statusBar().currentMessage()


def test_cards_are_rendered_once_and_reused(window, saved, tmp_path):
    out = tmp_path / "cut.otio"
    assert window.exports.export_timeline("otio", out, TimelineOptions("otio", "card"))
    cards = {p: p.stat().st_mtime_ns for p in (tmp_path / "cut_media").glob("card_*.mp4")}
    assert window.exports.export_timeline("otio", out, TimelineOptions("otio", "card"))
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cut_media").glob("card_*.mp4")} == cards
    saved.story.shots[1].prompt = "changed"
    assert window.exports.export_timeline("otio", out, TimelineOptions("otio", "card"))
    assert len(list((tmp_path / "cut_media").glob("card_shot0002_*.mp4"))) == 2  # a new card for the new prompt
    track = otio.adapters.read_from_file(str(out)).video_tracks()[0]
    assert (out.parent / track[1].media_reference.target_url).is_file()


def test_options_dialogs_return_what_was_chosen(window):
    dialog = export_options.TimelineOptionsDialog("edl", window)
    dialog.empty_shots.setCurrentIndex(dialog.empty_shots.findData("card"))
    dialog.collect.setChecked(True)
    assert dialog.options() == TimelineOptions("edl", "card", True)
    dialog.remember()
    assert export_options.TimelineOptionsDialog("otio", window).options() == TimelineOptions("otio", "card", True)
    pdf = export_options.PdfOptionsDialog(window)
    pdf.layout_choice.setCurrentIndex(pdf.layout_choice.findData("portrait"))
    pdf.page_size.setCurrentIndex(pdf.page_size.findData("Letter"))
    assert pdf.options() == PdfOptions("portrait", "Letter")


def test_pdf_from_the_menu_pages_numbers_and_prompts(window, saved, recorded_dialogs, tmp_path, monkeypatch):
    monkeypatch.setattr(export_options, "ask_pdf_options", lambda _w: PdfOptions("portrait", "Letter"))
    recorded_dialogs.paths.append(str(tmp_path / "board.pdf"))
    window.actions_by_name["export_pdf"].trigger()
    assert recorded_dialogs.messages == []
    reader = PdfReader(str(tmp_path / "board.pdf"))
    assert len(reader.pages) == page_count(6, PdfOptions("portrait")) == 2
    assert (tmp_path / "board.pdf").stat().st_mode & 0o777 == FILE_MODE  # as any saved file, not mkstemp's 0600
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((612, 792), abs=1)  # US Letter, portrait
    title = _text(reader, 0)
    assert "The Lighthouse Keeper's Kite" in title and "6 shots in 2 scenes" in title and "Page 1 of 2" in title
    assert "running time 0:03.4" in title  # 9 + 8 + 13 + 8 + 8 + 8 frames at 16 fps
    panels = _text(reader, 1)
    for number, shot in enumerate(saved.story.shots, start=1):
        assert f"Shot {number} · Scene {shot.scene_num}" in panels, number
        assert " ".join(shot.prompt.split()[:4]) in panels, number
    assert "efficient fjord flight" in panels  # no ligatures in the text layer
    assert "CUT · 0.56 s" in panels and "Page 2 of 2" in panels and "DRAFT" not in panels
    saved.story.shots[3].profile = "draft"  # not generated yet: it will be a draft, and the board says so
    assert window.exports.export_pdf(tmp_path / "draft.pdf", PdfOptions())
    assert "Shot 4 · Scene 1 DRAFT · 0.50 s" in _text(PdfReader(str(tmp_path / "draft.pdf")), 1)


def test_pdf_continues_long_text_instead_of_cutting_it(window, saved, tmp_path):
    shot = saved.story.shots[3]
    shot.prompt = " ".join(f"w{n:03d}" for n in range(600))
    shot.notes = "Remember the kite rig.\n" * 30
    shot.shot_size, shot.camera_move = "close-up", "handheld"
    out = tmp_path / "board.pdf"
    assert window.exports.export_pdf(out, PdfOptions("landscape", "A4"))
    reader = PdfReader(str(out))
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((842, 595), abs=1)  # A4 landscape
    assert len(reader.pages) > 2
    text = " ".join(_text(reader, i) for i in range(len(reader.pages)))
    assert re.findall(r"w\d{3}", text) == [f"w{n:03d}" for n in range(600)]  # every word, once, in order
    assert text.count("Remember the kite rig.") == 30
    assert "Shot 4 (continued)" in text and "CLOSE-UP · HANDHELD" in text
    assert "continued on page 3 →" in _text(reader, 1)  # the panel says where its text goes on


def test_pdf_of_a_thousand_shots(qapp, tmp_path):
    story = Story(name="Long", overview="x", shots=[
        Shot(id=f"s{i}", prompt=f"Prompt number {i + 1} of a very long story.", cut=i % 10 == 0,
             scene_num=1 + i // 10) for i in range(1000)])
    out = tmp_path / "long.pdf"
    pages = export_pdf(Project(folder=tmp_path / "p.storymem", story=story), out, PdfOptions(), 81)
    reader = PdfReader(str(out))
    assert pages == len(reader.pages) == 1 + math.ceil(1000 / 6)
    assert "1000 shots in 100 scenes" in _text(reader, 0) and "running time 1:24:22.5" in _text(reader, 0)
    last = _text(reader, pages - 1)
    assert "Shot 997 · Scene 100" in last and "Prompt number 1000 of" in last and f"Page {pages} of {pages}" in last


def test_pdf_never_overwrites_without_asking_and_cancel_keeps_the_old_file(
        window, saved, recorded_dialogs, tmp_path, monkeypatch):
    out = tmp_path / "board.pdf"
    out.write_bytes(b"old board")
    recorded_dialogs.paths.append(str(out))
    recorded_dialogs.yes_no.append(False)
    assert not window.exports.export_pdf()
    assert out.read_bytes() == b"old board" and "exists" in recorded_dialogs.questions[-1]

    monkeypatch.setattr(QProgressDialog, "wasCanceled", lambda _self: True)
    assert not window.exports.export_pdf(out, PdfOptions())
    assert not window.exports.export_timeline("otio", tmp_path / "cut.otio", TimelineOptions("otio"))
    assert out.read_bytes() == b"old board" and not (tmp_path / "cut.otio").exists()
    assert recorded_dialogs.messages == [] and "cancelled" in window.statusBar().currentMessage()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_missing_clip_is_reported_by_shot(window, saved, recorded_dialogs, tmp_path):
    (saved.folder / saved.story.shots[2].accepted().clip).unlink()
    assert not window.exports.export_timeline("edl", tmp_path / "cut.edl", TimelineOptions("edl"))
    assert "shot 3" in recorded_dialogs.texts("error")[0] and "missing" in recorded_dialogs.texts("error")[0]
    for keyframe in saved.story.shots[2].accepted().keyframes:
        (saved.folder / keyframe).unlink()
    assert window.exports.export_pdf(tmp_path / "board.pdf", PdfOptions())  # the panel says what is missing
    assert "clip missing" in _text(PdfReader(str(tmp_path / "board.pdf")), 1)


def test_inspector_shot_size_camera_move_and_duration(window, saved):
    shot = saved.story.shots[2]
    window.edits.select_shots([shot.id])
    inspector = window.inspector
    assert inspector.shot is shot
    assert inspector.cut_duration.text() == "0.81 s (13 frames at 16 fps)"
    inspector.shot_size.setCurrentIndex(inspector.shot_size.findData("medium close-up"))
    inspector.camera_move.setCurrentIndex(inspector.camera_move.findData("tracking"))
    assert (shot.shot_size, shot.camera_move) == ("medium close-up", "tracking")
    window.undo_stack.undo()
    assert shot.camera_move == "" and inspector.camera_move.currentData() == ""
    window.undo_stack.undo()
    assert shot.shot_size == "" and inspector.shot_size.currentText() == "—"

    card = saved.story.shots[1]
    window.edits.select_shots([card.id])
    assert inspector.cut_duration.text() == "0.50 s (8 frames at 16 fps, animatic card)"
    inspector.duration.setValue(0.0)  # back to "from frames": the project's default frames
    frames = window.exports.cut_defaults()[0]
    assert inspector.cut_duration.text() == f"{frames / 16:.2f} s ({frames} frames at 16 fps, animatic card)"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300), min_size=1,
                      max_size=3),
       width=st.floats(30, 600), height=st.floats(0, 300), largest=st.sampled_from([6.0, 9.0, 12.0]))
def test_fitting_text_never_loses_or_repeats_a_character(qapp, texts, width, height, largest):
    """What a panel draws plus what it hands on to the continued page is exactly its text, in order."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage

    from storyboard.pdf_text import Block, fit, printable

    device = QImage(8, 8, QImage.Format.Format_RGB32)
    blocks = [Block(text, bold=i == 1) for i, text in enumerate(texts)]
    fitted = fit(blocks, QRectF(0, 0, width, height), device, largest, 6.0)
    drawn = "".join(line.raw for line in fitted.lines).replace("\u2028", "\n")
    rest = "".join(block.text for block in fitted.rest)
    assert drawn + rest == "".join(printable(t.replace("\r\n", "\n")) for t in texts)
    assert len(fitted.rest) <= len(blocks) and 6.0 <= fitted.point_size <= largest
