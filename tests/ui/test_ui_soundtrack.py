"""File > Soundtrack: music copied into the project, one undo step, saved with it, and heard in every exported film
(the whole film, the selected shots from where they sit in it, the review copy) and on the timelines that can
carry it; a missing or bad file is refused by name before anything is written."""

from __future__ import annotations

import json

import numpy as np
from ui_helpers import add_take, film_audio, write_music

from storyboard.soundtrack_dialog import REMOVE, SoundtrackDialog
from storymem_engine.project import PROJECT_FILE, load_project
from storymem_engine.story import Soundtrack


def _saved_with_takes(window, tmp_path, recorded_dialogs):
    recorded_dialogs.paths.append(str(tmp_path / "music.storymem"))
    assert window.files.save_as()
    project = window.project
    for row in range(3):
        add_take(project, row, frames=16)  # 1 s each at 16 fps
    del project.story.shots[3:]
    window.set_project(project, window.project_path)
    return project


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_a_soundtrack_is_copied_in_undoable_saved_and_shown(window, tmp_path, recorded_dialogs):
    project = _saved_with_takes(window, tmp_path, recorded_dialogs)
    song = write_music(tmp_path / "outside" / "Theme Song.wav", 4.0)
    checked = window.soundtrack.checked(song)
    assert checked is not None and abs(checked[1] - 4.0) < 0.05
    assert window.soundtrack.set_music(song, 0.5, -6.0)
    music = project.story.soundtrack
    assert music.name == "Theme Song.wav" and (music.start_s, music.gain_db) == (0.5, -6.0)
    copied = project.resolve(music.file)
    assert music.file.startswith("music/") and copied.read_bytes() == song.read_bytes()
    window._write_status()
    assert "♪ Theme Song.wav" in window.shot_count_label.text()
    assert "the preview is silent" in window.shot_count_label.toolTip()
    assert window.undo_stack.undoText() == "Set the soundtrack"

    assert window.soundtrack.set_music(None, 1.0, 0.0)  # start and volume only: the same file
    assert project.story.soundtrack.file == music.file and window.undo_stack.undoText() == "Change the soundtrack"
    window.undo_stack.undo()
    assert project.story.soundtrack == music
    window.undo_stack.undo()
    assert project.story.soundtrack is None
    window._write_status()
    assert "♪" not in window.shot_count_label.text()
    window.undo_stack.redo()
    assert window.files.save()
    saved = json.loads((window.project_path / PROJECT_FILE).read_text())["story"]["soundtrack"]
    assert saved == {"file": music.file, "name": "Theme Song.wav", "start_s": 0.5, "gain_db": -6.0}
    assert load_project(window.project_path).story.soundtrack == music
    assert window.soundtrack.remove() and window.undo_stack.undoText() == "Remove the soundtrack"


def test_a_file_that_is_no_music_is_refused_by_name(window, tmp_path, recorded_dialogs):
    _saved_with_takes(window, tmp_path, recorded_dialogs)
    fake = tmp_path / "notes.mp3"
    fake.write_text("these are my notes, not a song")
    assert window.soundtrack.checked(fake) is None
    kind, title, text = recorded_dialogs.messages[-1]
    assert (kind, title) == ("error", "Not a soundtrack") and "notes.mp3" in text
    assert window.project.story.soundtrack is None and not window.undo_stack.canUndo()


def test_the_dialog_says_how_the_music_covers_the_film_and_offers_remove(window, qtbot, tmp_path):
    song = tmp_path / "song.wav"
    dialog = SoundtrackDialog(None, None, 30.0, lambda: (song, 95.0), window)
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled() and not dialog.remove_button.isEnabled()
    assert dialog.choose_file()
    assert dialog.ok_button.isEnabled() and dialog.file_label.text() == "song.wav (1:35.0)"
    assert "covers the whole film (0:30.0) and fades out" in dialog.fit.text()
    dialog.start.setValue(80.0)
    assert dialog.fit.text() == "The music ends 0:15.0 into the film (0:30.0); silence after it."
    dialog.start.setValue(100.0)
    assert "would start after its end" in dialog.fit.text()
    dialog.accept()  # refused: every film would fail
    assert dialog.result() != SoundtrackDialog.DialogCode.Accepted
    dialog.gain.setValue(-3.0)
    assert dialog.values() == (song, 100.0, -3.0)
    dialog.start.setValue(10.0)
    dialog.accept()
    assert dialog.result() == SoundtrackDialog.DialogCode.Accepted

    current = SoundtrackDialog(Soundtrack("music/x.wav", "x.wav", 2.0, -1.0), 60.0, 30.0, lambda: None, window)
    qtbot.addWidget(current)
    assert current.remove_button.isEnabled() and current.values() == (None, 2.0, -1.0)
    current.remove_button.click()
    assert current.result() == REMOVE


def test_exported_films_carry_the_music_from_where_their_shots_sit(window, tmp_path, recorded_dialogs):
    _saved_with_takes(window, tmp_path, recorded_dialogs)
    song = write_music(tmp_path / "ramp.wav", 10.0, ramp=True)  # loudness grows 0 -> full over 10 s
    assert window.soundtrack.set_music(song, 2.0, 0.0)
    film = tmp_path / "film.mp4"
    assert window.exports.export_film(film)
    # (The fixture's takes were made without memory: the message also says they are stale.)
    assert "film.mp4, with the soundtrack ramp.wav; " in window.statusBar().currentMessage()
    audio = film_audio(film)
    assert abs(len(audio) / 48000 - 3.0) < 0.05  # three 1-s shots: the music cut at the film's end
    # From 2 s into the ramp: its first moment is 20% loud (a 440 Hz tone's RMS is 0.707 of its peak).
    assert abs(_rms(audio[2000:6800]) - 0.2 * 0.707) < 0.03
    assert _rms(audio[-2400:]) < 0.3 * _rms(audio[-48000:-24000])  # faded out: the music goes on past the end

    # Shots 2-3 alone hear what plays under them in the whole film: from 3 s into the ramp.
    part = tmp_path / "part.mp4"
    assert window.exports.export_film(part, rows=[1, 2])
    assert abs(_rms(film_audio(part)[2000:6800]) - 0.3 * 0.707) < 0.03
    # A shot after the music has ended is silent in the whole film, so it is in its own export too.
    assert window.soundtrack.set_music(None, 8.5, 0.0)  # the music ends 1.5 s into the film
    late = tmp_path / "late.mp4"
    assert window.exports.export_film(late, rows=[2])
    assert len(film_audio(late)) == 0 and recorded_dialogs.messages == []
    said = window.statusBar().currentMessage()
    assert "late.mp4, silent: the soundtrack ramp.wav ends before this shot" in said
    window.undo_stack.undo()
    review = tmp_path / "review.mp4"
    assert window.exports.export_film(review, burn_in=True)
    assert len(film_audio(review)) == len(audio)


def test_a_missing_soundtrack_stops_the_export_before_it_writes(window, tmp_path, recorded_dialogs):
    project = _saved_with_takes(window, tmp_path, recorded_dialogs)
    assert window.soundtrack.set_music(write_music(tmp_path / "song.wav", 2.0), 0.0, 0.0)
    project.resolve(project.story.soundtrack.file).unlink()
    film = tmp_path / "film.mp4"
    film.write_bytes(b"the user's earlier film")
    assert not window.exports.export_film(film)
    kind, title, text = recorded_dialogs.messages[-1]
    assert title == "Cannot export film" and "the soundtrack song.wav" in text and "File > Soundtrack" in text
    assert film.read_bytes() == b"the user's earlier film"


def test_timelines_put_the_music_on_an_audio_track_or_say_they_cannot(window, tmp_path, recorded_dialogs):
    from storyboard.timeline_export import TimelineOptions, read_timeline

    _saved_with_takes(window, tmp_path, recorded_dialogs)
    assert window.soundtrack.set_music(write_music(tmp_path / "song.wav", 10.0), 1.5, 0.0)
    for fmt, suffix in (("otio", ".otio"), ("fcp7", ".xml")):
        path = tmp_path / f"cut{suffix}"
        assert window.exports.export_timeline(fmt, path, TimelineOptions(fmt))
        assert "the soundtrack song.wav on audio track A1" in window.statusBar().currentMessage()
        timeline = read_timeline(path)  # held: its tracks go with it
        audio = [track for track in timeline.tracks if track.kind == "Audio"]
        assert len(audio) == 1 and audio[0][0].name == "Soundtrack - song.wav"
        used = audio[0][0].source_range
        assert used.start_time.to_seconds() == 1.5 and used.duration.to_seconds() == 3.0
    # --collect-media takes the music along too, and the timeline points at that copy.
    path = tmp_path / "kept.otio"
    assert window.exports.export_timeline("otio", path, TimelineOptions("otio", collect_media=True))
    timeline = read_timeline(path)
    (music,) = [track for track in timeline.tracks if track.kind == "Audio"][0]
    copied = music.media_reference.target_url  # named as the project's own copy in music/
    assert copied.startswith("kept_media/soundtrack_") and copied.endswith(".wav")
    assert (tmp_path / copied).read_bytes() == (tmp_path / "song.wav").read_bytes()
    path = tmp_path / "cut.edl"
    assert window.exports.export_timeline("edl", path, TimelineOptions("edl"))
    assert "the soundtrack is left out: the CMX 3600 EDL written here holds the video only" in (
        window.statusBar().currentMessage())


def test_the_menu_dialog_sets_and_removes_and_a_missing_file_is_named_on_open(window, tmp_path, recorded_dialogs,
                                                                             monkeypatch):
    project = _saved_with_takes(window, tmp_path, recorded_dialogs)
    song = write_music(tmp_path / "song.wav", 3.0)

    def pick_then_ok(dialog):
        dialog.choose_file()
        dialog.gain.setValue(-2.0)
        return SoundtrackDialog.DialogCode.Accepted

    recorded_dialogs.paths.append(str(song))  # the file chooser's answer
    monkeypatch.setattr(SoundtrackDialog, "exec", pick_then_ok)
    window.actions_by_name["soundtrack"].trigger()
    assert project.story.soundtrack.name == "song.wav" and project.story.soundtrack.gain_db == -2.0
    assert window.files.save()

    monkeypatch.setattr(SoundtrackDialog, "exec", lambda dialog: REMOVE)
    window.actions_by_name["soundtrack"].trigger()
    assert project.story.soundtrack is None and window.undo_stack.undoText() == "Remove the soundtrack"

    window.undo_stack.undo()
    assert window.files.save()
    project.resolve(project.story.soundtrack.file).unlink()
    assert window.files.open_path(window.project_path)
    kind, title, text = recorded_dialogs.messages[-1]
    assert (kind, title) == ("warning", "Missing files") and "music/" in text
    assert "The film exports refuse a missing soundtrack" in text and "takes" not in text  # the takes are all there


def _add_music_and_a_cast_member(window, tmp_path) -> None:
    """A soundtrack and a cast member with one image, both copied into the project (File > Soundtrack, Cast)."""
    from PySide6.QtGui import QColor, QImage

    assert window.soundtrack.set_music(write_music(tmp_path / "song.wav", 2.0), 0.0, 0.0)
    face = QImage(64, 48, QImage.Format.Format_RGB888)
    face.fill(QColor("#c08040"))
    face.save(str(tmp_path / "mara.png"))
    assert window.casting.add_files([str(tmp_path / "mara.png")], name="Mara")


def test_save_as_elsewhere_takes_the_music_and_the_cast_images_along(window, tmp_path, recorded_dialogs):
    """Save As to a new folder copied takes/ only: the cast's images and the soundtrack stayed behind, and the
    copy opened with them missing."""
    project = _saved_with_takes(window, tmp_path, recorded_dialogs)
    _add_music_and_a_cast_member(window, tmp_path)
    first = window.project_path
    recorded_dialogs.paths.append(str(tmp_path / "copy.storymem"))
    assert window.files.save_as()
    assert window.project_path != first and project.missing_files() == []
    reopened = load_project(window.project_path)
    assert reopened.missing_files() == []
    assert reopened.resolve(reopened.story.soundtrack.file).read_bytes() == (first / project.story.soundtrack.file
                                                                            ).read_bytes()
    film = tmp_path / "film.mp4"
    assert window.exports.export_film(film) and len(film_audio(film)) > 0


def test_music_and_cast_added_to_a_never_saved_project_survive_its_first_save_as(window, tmp_path, recorded_dialogs):
    """A never-saved project keeps its files in the app's data folder, which its first Save As then deletes: the
    cast's images and the music went with it."""
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    try:
        assert window.project_path is None
        _add_music_and_a_cast_member(window, tmp_path)
        assert window.files.is_unsaved()  # placed in the app's folder to hold the copies
        unsaved = window.project_path
        recorded_dialogs.paths.append(str(tmp_path / "first.storymem"))
        assert window.files.save_as()
        assert not unsaved.exists() and window.project.missing_files() == []
        assert load_project(window.project_path).missing_files() == []
    finally:
        QStandardPaths.setTestModeEnabled(False)


def test_the_pdf_and_the_headless_film_export_name_the_music(window, tmp_path, recorded_dialogs):
    from pypdf import PdfReader

    from storyboard.export_cli import main as export_main
    from storyboard.pdf_storyboard import PdfOptions

    _saved_with_takes(window, tmp_path, recorded_dialogs)
    assert window.soundtrack.set_music(write_music(tmp_path / "Waltz.wav", 5.0), 65.0 / 60, 0.0)
    assert window.files.save()
    board = tmp_path / "board.pdf"
    assert window.exports.export_pdf(board, PdfOptions())
    words = " ".join(PdfReader(str(board)).pages[0].extract_text().split())  # pypdf puts tabs between words
    assert "music: Waltz.wav from 0:01.1" in words
    film = tmp_path / "cli.mp4"
    assert export_main([str(window.project_path), "--format", "mp4", "--out", str(film)]) == 0
    assert len(film_audio(film)) > 0
