"""File > Export film (H.264 with animatic cards) and shot list CSV; overwrite, cancel and disk errors."""

from __future__ import annotations

import csv
import errno
import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QProgressDialog
from ui_helpers import add_take, write_clip

from storyboard.film_export import card_frames, film_size, plan_film
from storymem_engine import video
from storymem_engine.video import probe_video, read_video


@pytest.fixture
def film_project(window, recorded_dialogs, tmp_path):
    recorded_dialogs.paths.append(str(tmp_path / "film"))
    assert window.files.save_as()
    project = window.project
    add_take(project, 0, frames=9)
    add_take(project, 2, frames=13)
    for shot in project.story.shots:
        shot.duration_s = 0.5  # 8-frame animatic cards keep the test fast
    project.story.shots[5].duration_s = None
    project.story.shots[5].frames = 5
    window.model.refresh_all()
    return project


def test_export_film_is_playable_h264_with_animatic_cards(window, film_project, recorded_dialogs, tmp_path):
    out = tmp_path / "film.mp4"
    recorded_dialogs.paths.append(str(out))
    assert window.actions_by_name["export_film"].trigger() is None
    assert recorded_dialogs.messages == []
    info = probe_video(out)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 64, 48)
    assert info.faststart and info.fps == 16
    assert info.frames == 9 + 8 + 13 + 8 + 8 + 5
    # Shot 3's take (made by the fixture without memory) is stale: in the film as it is, and said to be, so a film to
    # review is not taken for the final one.
    assert window.statusBar().currentMessage() == (f"Exported 51 frames to {out}; shots 2, 4–6 are animatic cards "
                                                   "(no accepted take yet); shot 3 is stale (made from earlier "
                                                   "memory or settings: Generate > Regenerate stale shots)")
    frames = read_video(out)
    assert frames[0, :, :, 0].mean() < 40 and frames[8, :, :, 0].mean() > 200  # the take's red ramp
    card = frames[9 + 3]
    assert card.std() > 10  # text and the scene band, not a blank frame


def test_export_of_the_selected_shots_is_their_film_alone(window, film_project, recorded_dialogs, tmp_path,
                                                          monkeypatch):
    from storyboard import dialogs

    window.edits.select_shots([film_project.story.shots[r].id for r in (2, 3)])
    out = tmp_path / "scene.mp4"
    offered = []
    monkeypatch.setattr(dialogs, "save_file", lambda _parent, _title, _filter, start: offered.append(start) or str(out))
    window.actions_by_name["export_selected_film"].trigger()
    assert recorded_dialogs.messages == []
    assert probe_video(out).frames == 13 + 8  # shot 3's take, shot 4's card
    assert window.statusBar().currentMessage() == (f"Exported shots 3–4 (21 frames) to {out}; shot 4 is its "
                                                   "animatic card (no accepted take yet); shot 3 is stale (made from "
                                                   "earlier memory or settings: Generate > Regenerate stale shots)")
    assert offered[0].endswith("film shots 3–4.mp4")  # the project's name and the shots


def test_a_review_copy_burns_shot_take_and_timecode_into_each_frame(window, film_project, recorded_dialogs, tmp_path):
    from storyboard.film_export import timecode

    plain, review = tmp_path / "plain.mp4", tmp_path / "review.mp4"
    recorded_dialogs.paths += [str(plain), str(review)]
    assert window.exports.export_film()
    window.actions_by_name["export_review"].trigger()
    assert recorded_dialogs.messages == []
    a, b = read_video(plain), read_video(review)
    assert a.shape == b.shape  # same frames, same length
    height = a.shape[1]
    label = slice(height - 8, height)  # the bottom rows of the left half: where the label goes
    changed = [np.abs(a[i, label, :32].astype(int) - b[i, label, :32]).mean() for i in range(len(a))]
    assert min(changed) > 5  # every frame is labelled
    untouched = np.abs(a[:, : height // 2].astype(int) - b[:, : height // 2]).mean()
    assert untouched < 2  # the picture above it is the film's
    assert [timecode(n) for n in (0, 15, 16, 16 * 61 + 3)] == ["00:00:00:00", "00:00:00:15", "00:00:01:00",
                                                               "00:01:01:03"]


def test_export_never_overwrites_without_asking_and_cancel_keeps_old_file(
    window, film_project, recorded_dialogs, tmp_path, monkeypatch
):
    out = tmp_path / "film.mp4"
    out.write_bytes(b"old film")
    recorded_dialogs.paths.append(str(out))
    recorded_dialogs.yes_no.append(False)
    assert not window.exports.export_film()
    assert out.read_bytes() == b"old film"
    assert "exists" in recorded_dialogs.questions[-1]

    monkeypatch.setattr(QProgressDialog, "wasCanceled", lambda _self: True)
    recorded_dialogs.paths.append(str(out))
    recorded_dialogs.yes_no.append(True)
    assert not window.exports.export_film()
    assert out.read_bytes() == b"old film"
    assert recorded_dialogs.messages == []  # a cancel is not an error
    assert "cancelled" in window.statusBar().currentMessage()


def test_full_disk_during_export_is_reported_and_old_file_kept(
    window, film_project, recorded_dialogs, tmp_path, monkeypatch
):
    out = tmp_path / "film.mp4"
    out.write_bytes(b"old film")

    def no_space(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(video.os, "replace", no_space)
    assert not window.exports.export_film(out)
    assert "No space left on device" in recorded_dialogs.texts("error")[0]
    assert out.read_bytes() == b"old film"
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_export_into_missing_folder_and_missing_clip_are_clear(window, film_project, recorded_dialogs, tmp_path):
    assert not window.exports.export_film(tmp_path / "no" / "such" / "film.mp4")
    assert "folder does not exist" in recorded_dialogs.texts("error")[0]
    (film_project.folder / film_project.story.shots[2].accepted().clip).unlink()
    assert not window.exports.export_film(tmp_path / "film.mp4")
    assert "shot 3" in recorded_dialogs.texts("error")[1] and "missing" in recorded_dialogs.texts("error")[1]

    # A clip cut off by a full disk or a crash: the shot and the reason, not PyAV's errno and the temp path.
    (film_project.folder / film_project.story.shots[0].accepted().clip).write_bytes(b"\x00\x00\x00\x18ftypmp42")
    assert not window.exports.export_film(tmp_path / "film.mp4")
    assert recorded_dialogs.texts("error")[2] == (
        "shot 1: cannot read takes/shot-001/take0/clip.mp4: Invalid data found when processing input "
        "(regenerate the shot or accept another take)")
    assert not (tmp_path / "film.mp4").exists()

    # A clip cut off in the middle: its index and first frames read, then decoding stops. The encoder's message
    # ("encoding film.mp4 failed: ... 'avcodec_send_packet()'") named neither the shot nor the file.
    shots = film_project.story.shots
    write_clip(film_project.folder / shots[2].accepted().clip, 13, 64, 48)
    cut = film_project.folder / shots[0].accepted().clip
    write_clip(cut, 40, 64, 48)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size * 9 // 10])
    assert not window.exports.export_film(tmp_path / "film.mp4")
    assert re.fullmatch(r"shot 1: cannot read takes/shot-001/take0/clip\.mp4 after frame [1-9]\d of its 40: .+ "
                        r"\(the clip may be cut off: regenerate the shot or accept another take\)",
                        recorded_dialogs.texts("error")[3])
    assert not (tmp_path / "film.mp4").exists()
    # Trimmed: counted in the clip's frames as the card counts them, and on the cut.
    take = shots[0].accepted()
    take.frames, take.trim_in, take.trim_out = 40, 2, 39
    assert not window.exports.export_film(tmp_path / "film.mp4")
    assert re.match(r"shot 1: cannot read takes/shot-001/take0/clip\.mp4 after frame (\d+) of its 40 \(frame (\d+) "
                    r"of the 37 on the cut\)", recorded_dialogs.texts("error")[4])
    take.frames, take.trim_in, take.trim_out = 9, 0, 0

    # Another file in its place: an image opens as a one-frame video, and the film came out short without a word.
    cut.write_bytes((film_project.folder / shots[0].accepted().keyframes[0]).read_bytes())
    assert not window.exports.export_film(tmp_path / "film.mp4")
    assert recorded_dialogs.texts("error")[5] == ("shot 1: takes/shot-001/take0/clip.mp4 holds 1 frame where the "
                                                  "take made 9 (regenerate the shot or accept another take)")


def test_shot_list_csv(window, film_project, recorded_dialogs, tmp_path):
    out = tmp_path / "shots.csv"
    recorded_dialogs.paths.append(str(tmp_path / "shots"))  # the suffix is added
    window.project.story.shots[2].accepted().request.update(seed=1807072729, mode="m2v")
    assert window.actions_by_name["export_csv"].trigger() is None
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["shot"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0]["status"] == "done" and rows[1]["status"] == "empty"
    assert rows[2]["clip"].endswith("clip.mp4") and rows[4]["scene"] == "2" and rows[3]["cut"] == "no"
    # The seed and mode that made the accepted take, where the shot's own say "blank" and "auto".
    assert rows[2]["seed"] == "" and rows[2]["mode"] == "auto"
    assert (rows[2]["take_seed"], rows[2]["take_mode"]) == ("1807072729", "m2v")
    assert rows[1]["take_seed"] == rows[1]["take_mode"] == ""
    assert out.read_bytes().startswith(b"\xef\xbb\xbfshot,")  # Excel reads UTF-8 only with the mark

    window.project.story.shots[0].prompt = "=HYPERLINK(\"http://x\") a sign reads Café"
    window.project.story.shots[1].notes = "+1 stop, @ dawn"
    assert window.exports.export_shot_list(out)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert rows[0]["prompt"] == "'=HYPERLINK(\"http://x\") a sign reads Café"  # text, never a formula
    assert rows[1]["notes"] == "'+1 stop, @ dawn" and rows[2]["prompt"] == window.project.story.shots[2].prompt


def test_film_plan_sizes_and_durations(window):
    project = window.project
    segments = plan_film(project, default_frames=81)
    assert all(s.clip is None and s.frames == 81 for s in segments)
    assert film_size(segments, (832, 480)) == (832, 480)
    shot = project.story.shots[0]
    shot.duration_s = 2.0
    assert card_frames(shot, 81) == 32
    shot.duration_s, shot.frames = None, 49
    assert card_frames(shot, 81) == 49


def test_animatic_card_renders_at_export_size(qapp):
    from storyboard.animatic import render_card

    card = render_card("Mara flies the kite at dawn.", 6, 2, True, 832, 480)
    assert card.shape == (480, 832, 3) and card.dtype == np.uint8
    assert len(np.unique(card.reshape(-1, 3), axis=0)) > 20


def test_the_next_export_offers_the_folder_the_last_one_went_to(window, film_project, tmp_path, monkeypatch):
    from storyboard import dialogs

    exports = tmp_path / "exports"
    exports.mkdir()
    offered = []
    answers = iter([str(exports / "cut.mp4"), None])
    monkeypatch.setattr(dialogs, "save_file", lambda _p, _t, _f, start: offered.append(start) or next(answers))
    assert window.exports.export_film()
    assert not window.exports.export_shot_list()  # cancelled at the file dialog
    assert Path(offered[0]).parent == Path(window.project_path)  # the first export: the project's own folder
    assert offered[1] == str(exports / f"{window.display_name()}.csv")  # then where the last one went
