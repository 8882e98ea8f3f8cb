"""A take's in and out points (no Qt): how a project file holds them, where Set in / Set out put them, and that
every place a shot's length is read (timeline exports, shot list, a render's film) uses the trimmed frames."""

from __future__ import annotations

import csv
import json

import numpy as np
import opentimelineio as otio
import pytest
from handoff_projects import add_take, make_project
from hypothesis import given
from hypothesis import strategies as st

from storyboard.shot_list_csv import write_shot_list
from storyboard.timeline_export import FORMATS, TimelineOptions, export_timeline, read_timeline
from storyboard.trim_points import trim_words, with_in, with_out
from storymem_engine.project import load_project
from storymem_engine.shot_timing import shot_frames
from storymem_engine.story import StoryError, Take
from storymem_engine.video import concat_videos, read_video


def _take(frames: int, trim_in: int = 0, trim_out: int = 0) -> Take:
    return Take(id="t1", request={}, clip="takes/s/t1/clip.mp4", frames=frames, trim_in=trim_in, trim_out=trim_out)


def _source_frames(video) -> list[int]:
    """Which frame of a ``handoff_projects.write_clip`` clip each frame is (its red ramps over the clip)."""
    return [int(round(frame[..., 0].mean() * (video.shape[0] - 1) / 255)) for frame in video]


def test_a_trim_survives_saving_and_a_take_without_one_reads_as_whole(tmp_path):
    project = make_project(tmp_path / "p.storymem")
    take = add_take(project, 0, 9)
    take.trim_in, take.trim_out = 2, 7
    project.save()
    again = load_project(project.folder).story.shots[0].accepted()
    assert (again.trim_in, again.trim_out, again.cut_range(), again.trimmed) == (2, 7, (2, 7), True)
    assert shot_frames(load_project(project.folder).story.shots[0], 81) == 5
    old = Take.from_dict({"id": "t", "clip": "c.mp4", "frames": 9})  # written before trims existed
    assert (old.cut_range(), old.trimmed) == ((0, 9), False)


@pytest.mark.parametrize(("fields", "message"), [
    ({"trim_in": 9}, r"trim_in: 9 is outside 0\.\.8"),
    ({"trim_out": 10}, r"trim_out: 10 is outside 0\.\.9"),
    ({"trim_in": 5, "trim_out": 5}, r"out point \(frame 5\) comes before its in point \(frame 6\)"),
    ({"trim_in": "2"}, "trim_in: expected a whole number"),
])
def test_a_malformed_trim_is_named_in_words(fields, message):
    with pytest.raises(StoryError, match=message):
        Take.from_dict({"id": "t", "clip": "c.mp4", "frames": 9, **fields})


@given(frames=st.integers(1, 200), data=st.data())
def test_set_in_and_set_out_always_give_points_a_project_file_accepts(frames, data):
    take = _take(frames)
    for _ in range(data.draw(st.integers(1, 6))):
        frame = data.draw(st.integers(-3, frames + 3))
        setter = data.draw(st.sampled_from([with_in, with_out]))
        take.trim_in, take.trim_out = setter(take, frame)
        reread = Take.from_dict(take.to_dict())  # what Save writes, Open reads
        start, stop = reread.cut_range()
        assert 0 <= start < stop <= frames
        shown = max(0, min(frame, frames - 1))
        assert (start if setter is with_in else stop - 1) == shown  # the point lands on the player's frame
        assert bool(trim_words(reread)) == reread.trimmed


def test_in_and_out_across_each_other_drop_the_other_point_as_editors_do():
    take = _take(20, 5, 10)
    assert with_in(take, 12) == (12, 0)  # an in point past the out point: the out point goes
    assert with_out(take, 3) == (0, 4)  # an out point before the in point: the in point goes
    assert with_out(take, 19) == (5, 0)  # the last frame is no out point
    assert trim_words(_take(81, 5, 70)) == "frames 6–70 of 81 on the cut (4.1 s of 5.1 s)"


def test_the_cut_jumps_only_where_a_trim_meets_a_continuing_shot(tmp_path):
    from storyboard.trim_points import cut_jumps

    project = make_project(tmp_path / "p.storymem", shots=3)  # shot 1 opens scene 1; 2 and 3 continue it
    for row in range(3):
        add_take(project, row, 9)
    shots = project.story.shots
    assert [cut_jumps(shots, row) for row in range(3)] == ["", "", ""]
    shots[1].accepted().trim_out = 6
    assert cut_jumps(shots, 1) == "shot 3 continues from this take's last frame, so the cut jumps there"
    shots[1].accepted().trim_out, shots[1].accepted().trim_in = 0, 2
    assert cut_jumps(shots, 1) == "this shot continues shot 1, so the cut jumps where it starts"
    shots[0].accepted().trim_in = 2  # a trimmed start on a scene's first shot joins nothing
    assert cut_jumps(shots, 0) == ""


@pytest.fixture
def trimmed(tmp_path):
    project = make_project(tmp_path / "Kite.storymem", shots=2)
    first = add_take(project, 0, 12)
    first.trim_in, first.trim_out = 3, 9
    add_take(project, 1, 9)
    project.save()
    return load_project(project.folder)


@pytest.mark.parametrize("fmt", ["otio", "fcp7", "fcpx", "edl"])
def test_timeline_exports_use_the_frames_between_the_points(trimmed, tmp_path, fmt):
    out = tmp_path / f"cut{FORMATS[fmt].suffix}"
    export_timeline(trimmed, out, TimelineOptions(fmt), 81, (64, 48))
    timeline = read_timeline(out)  # held: a track outlives its timeline only empty
    clips = [item for item in timeline.video_tracks()[0] if isinstance(item, otio.schema.Clip)]
    source = clips[0].source_range
    assert (source.start_time.to_frames(), source.duration.to_frames()) == (3 * FORMATS[fmt].rate // 16,
                                                                            6 * FORMATS[fmt].rate // 16)
    assert clips[1].range_in_parent().start_time.to_seconds() == pytest.approx(6 / 16)  # shot 2 follows at once


def test_the_shot_list_says_the_trimmed_length_and_the_clips_in_and_out(trimmed, tmp_path):
    out = tmp_path / "shots.csv"
    write_shot_list(trimmed.story, ["done", "done"], out)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [(r["seconds"], r["clip_in"], r["clip_out"]) for r in rows] == [("0.375", "4", "9"), ("0.562", "1", "9")]


def test_a_renders_film_takes_each_trimmed_take_between_its_points(trimmed, tmp_path):
    from storymem_engine.cli import write_film

    takes = [shot.accepted() for shot in trimmed.story.shots]
    assert write_film(trimmed, takes, tmp_path / "film.mp4") == 6 + 9
    film = read_video(tmp_path / "film.mp4")
    first = read_video(trimmed.resolve(takes[0].clip))
    assert _source_frames(first)[3:9] == [3, 4, 5, 6, 7, 8]
    # The film's first six frames are the clip's frames 4..9: each nearest its own source frame.
    for film_frame, source in zip(film[:6], range(3, 9), strict=True):
        errors = [np.abs(film_frame.astype(int) - frame.astype(int)).mean() for frame in first]
        assert int(np.argmin(errors)) == source


def test_concat_refuses_ranges_that_do_not_match_the_clips(trimmed, tmp_path):
    clip = trimmed.resolve(trimmed.story.shots[0].accepted().clip)
    with pytest.raises(ValueError, match="2 frame ranges for 1 clips"):
        concat_videos([clip], tmp_path / "x.mp4", ranges=[(0, 0), (1, 2)])
    assert json.loads((trimmed.folder / "project.json").read_text(encoding="utf-8"))  # untouched


def test_the_storyboard_pdf_pictures_a_trimmed_take_at_its_in_point(trimmed):
    """Not its first keyframe, which may lie in the part trimmed off the cut."""
    from storyboard.handoff import plan_handoff
    from storyboard.pdf_storyboard import _ImageCache

    first, second = plan_handoff(trimmed, 81)[:2]
    images = _ImageCache(trimmed)
    picture = images.picture(first).pixelColor(32, 24)
    # The clip's frame 4 (its red ramps over 12 frames, no green), not the keyframe PNG (green 120).
    assert abs(picture.red() - 255 * 3 / 11) < 12 and picture.green() < 30
    assert images.picture(second).pixelColor(32, 24).green() == 120  # an untrimmed take: its first keyframe
