"""Timeline exports read back with OpenTimelineIO and their adapters: clips, order, names, durations, markers,
metadata and notes; media references; missing clips; unicode; 1,000 shots. Plus the crews' shot fields."""

from __future__ import annotations

import csv
import json
import urllib.parse
from pathlib import Path

import opentimelineio as otio
import pytest
from handoff_projects import add_take, make_project

from storyboard.handoff import HandoffError, plan_handoff
from storyboard.shot_list_csv import write_shot_list
from storyboard.timeline_export import FORMATS, TimelineOptions, export_timeline, read_timeline
from storymem_engine.project import load_project
from storymem_engine.story import Shot, StoryError

# (name, frames at 16 fps) of the standard project below, in story order; None: a gap
EXPECTED = [("Shot 1 - Take 1", 9), (None, 8), ("Shot 3 - Take 2", 13), ("Shot 4 - Take 1", 9), (None, 8), (None, 8)]


@pytest.fixture
def project(tmp_path):
    project = make_project(tmp_path / "Kite.storymem")
    add_take(project, 0, 9)
    add_take(project, 2, 7, take_number=1)
    add_take(project, 2, 13, take_number=2)  # the accepted one: "Take 2"
    add_take(project, 3, 9, profile="draft")
    project.story.shots[5].profile = "draft"  # no take yet: the profile it would be generated with
    project.story.shots[2].notes = "Hands only.\nNo face."
    project.save()
    return load_project(project.folder)


def _export(project, tmp_path, fmt, **options) -> Path:
    out = tmp_path / "out" / f"cut{FORMATS[fmt].suffix}"
    out.parent.mkdir(exist_ok=True)
    export_timeline(project, out, TimelineOptions(fmt, **options), 81, (64, 48))
    return out


def _cuts(timeline, trailing_gaps: bool = True) -> list[tuple[str | None, float, float]]:
    """(clip name or None for a gap, start s, duration s) on the first video track."""
    items = []
    for item in timeline.video_tracks()[0]:
        start = item.range_in_parent().start_time.to_seconds()
        items.append((item.name if isinstance(item, otio.schema.Clip) else None, start,
                      item.duration().to_seconds()))
    while not trailing_gaps and items and items[-1][0] is None:
        items.pop()
    return items


def _expected_cuts(trailing_gaps: bool = True) -> list[tuple[str | None, float, float]]:
    cuts, start = [], 0
    for name, frames in EXPECTED:
        cuts.append((name, start / 16, frames / 16))
        start += frames
    while not trailing_gaps and cuts[-1][0] is None:
        cuts.pop()
    return cuts


def test_otio_clips_order_names_durations_markers_and_metadata(project, tmp_path):
    out = _export(project, tmp_path, "otio")
    timeline = otio.adapters.read_from_file(str(out))
    track = timeline.video_tracks()[0]
    assert len(timeline.video_tracks()) == 1 and len(track) == 6
    assert [(i.name if isinstance(i, otio.schema.Clip) else None, i.duration().value) for i in track] == EXPECTED
    assert all(i.duration().rate == 16 for i in track)
    assert _cuts(timeline) == _expected_cuts()

    third = track[2]
    meta = third.metadata["storymem"]
    shot = project.story.shots[2]
    assert meta["prompt"] == shot.prompt and meta["scene"] == 1 and meta["seed"] == 1002
    assert meta["take"] == 2 and meta["take_id"] == "take2"
    assert meta["shot_id"] == shot.id and meta["notes"] == "Hands only.\nNo face."
    assert meta["profile"] == "final" and meta["generation"]["engine"] == "tiny (test)"
    assert meta["generation"]["mode"] == "m2v" and meta["generation"]["steps"] == 2
    assert [i.metadata["storymem"]["profile"] for i in track] == ["final", "final", "final", "draft", "final",
                                                                   "draft"]
    assert list(meta["memory_keyframes"]) == ["takes/shot-0001/take1/keyframe_0.png"]
    assert list(meta["memory_keys"]) == ["shot-0001/take1/0"]
    assert meta["shot_size"] == "wide" and meta["frames"] == 13
    assert track[1].metadata["storymem"]["take_id"] == "" and track[1].metadata["storymem"]["shot_number"] == 2

    # relative to the exported file, and it leads to the take's clip
    url = third.media_reference.target_url
    assert not url.startswith(("/", "file:"))
    assert (out.parent / url).resolve() == (project.folder / shot.accepted().clip).resolve()
    # a scene marker where each scene opens (shots 1 and 4 are cuts)
    assert [m.name for m in track[0].markers] == ["Scene 1"]
    assert [m.name for m in track[3].markers] == ["Scene 2"]
    assert len(track[2].markers) == 0 and track[0].markers[0].color == otio.schema.MarkerColor.RED


@pytest.mark.parametrize("fmt", ["fcp7", "fcpx", "edl"])
def test_xml_and_edl_read_back_give_the_same_cuts(project, tmp_path, fmt):
    out = _export(project, tmp_path, fmt)
    timeline = read_timeline(out)
    # editors' formats end at the last clip: trailing gaps have nothing to hold them
    assert _cuts(timeline, trailing_gaps=False) == _expected_cuts(trailing_gaps=False)
    clips = [i for i in timeline.video_tracks()[0] if isinstance(i, otio.schema.Clip)]
    targets = [c.media_reference.target_url for c in clips]
    expected = [project.folder / s.accepted().clip for s in project.story.shots if s.accepted()]
    if fmt == "edl":
        assert targets == [str(p.resolve()) for p in expected]
    else:
        assert [Path(urllib.parse.unquote(urllib.parse.urlparse(t).path)) for t in targets] == \
            [p.resolve() for p in expected]


def test_fcp7_notes_and_edl_comments_carry_the_shot(project, tmp_path):
    shot = project.story.shots[1]
    shot.prompt = "Ünïcode «prompt» 灯台 🌊\nsecond line\x00 end"
    add_take(project, 1, 9)
    fcp = read_timeline(_export(project, tmp_path, "fcp7"))
    second = fcp.video_tracks()[0][1]
    comments = second.metadata["fcp_xml"]["comments"]
    assert comments["mastercomment1"] == "Ünïcode «prompt» 灯台 🌊 second line end"
    assert "Seed 1001" in comments["mastercomment2"] and "Take 1" in comments["mastercomment2"]
    assert second.metadata["fcp_xml"]["logginginfo"]["scene"] == "1"
    assert second.metadata["fcp_xml"]["comments"]["clipcommenta"] == "Bring the rig. Check wind."
    assert [m.name for m in fcp.video_tracks()[0][0].markers] == ["Scene 1"]

    edl = read_timeline(_export(project, tmp_path, "edl"))
    clips = list(edl.video_tracks()[0])
    lines = clips[1].metadata["cmx_3600"]["comments"]
    assert "PROMPT: Ünïcode «prompt» 灯台 🌊 second line end" in lines
    assert "SEED: 1001" in lines and "TAKE: 1" in lines and "SCENE: 1" in lines
    assert "PROFILE: final: tiny (test) m2v 64x48 9 frames 2 steps 3.5 cfg" in lines
    draft = clips[3].metadata["cmx_3600"]["comments"]
    assert "PROFILE: draft (distilled, memory fidelity unverified): tiny (test) m2v 64x48 9 frames 2 steps 3.5 cfg" \
        in draft
    assert any(line.startswith("MEMORY: shot-0001/take1/0") for line in lines)
    assert len({c.metadata["cmx_3600"]["reel"] for c in clips}) == len(clips)  # one reel per clip
    assert [m.name for m in clips[0].markers] == ["SCENE 1"]

    fcpx = (tmp_path / "out" / "cut.fcpxml")
    export_timeline(project, fcpx, TimelineOptions("fcpx"), 81, (64, 48))
    text = fcpx.read_text(encoding="utf-8")
    assert 'frameDuration="1/16s"' in text and "Ünïcode «prompt» 灯台 🌊 second line end" in text


def test_collect_media_copies_clips_beside_the_export(project, tmp_path):
    out = _export(project, tmp_path, "otio", collect_media=True)
    media = out.parent / "cut_media"
    track = otio.adapters.read_from_file(str(out)).video_tracks()[0]
    urls = [i.media_reference.target_url for i in track if isinstance(i, otio.schema.Clip)]
    assert urls == ["cut_media/shot-0001_take1.mp4", "cut_media/shot-0003_take2.mp4", "cut_media/shot-0004_take1.mp4"]
    original = project.folder / project.story.shots[2].accepted().clip
    assert (media / "shot-0003_take2.mp4").read_bytes() == original.read_bytes()
    fcp = read_timeline(_export(project, tmp_path, "fcp7", collect_media=True))
    first = fcp.video_tracks()[0][0].media_reference.target_url
    assert first == (media / "shot-0001_take1.mp4").resolve().as_uri()  # XML: absolute, never relative
    # Another file under a copy's name (the user's, not an earlier export's copy) is left as it is.
    theirs = media / "shot-0003_take2.mp4"
    theirs.write_bytes(b"the editor's own render")
    with pytest.raises(HandoffError, match="shot-0003_take2.mp4 is already there and is not a copy of clip"):
        _export(project, tmp_path, "otio", collect_media=True)
    assert theirs.read_bytes() == b"the editor's own render"


def test_missing_clip_names_the_shot_and_writes_nothing(project, tmp_path):
    (project.folder / project.story.shots[2].accepted().clip).unlink()
    out = tmp_path / "cut.otio"
    with pytest.raises(HandoffError, match="shot 3: the accepted take's clip .* is missing"):
        export_timeline(project, out, TimelineOptions("otio"), 81, (64, 48))
    assert not out.exists()
    with pytest.raises(HandoffError, match="unknown timeline format"):
        export_timeline(project, out, TimelineOptions("aaf"), 81, (64, 48))
    with pytest.raises(HandoffError, match="folder does not exist"):
        export_timeline(project, tmp_path / "no" / "cut.otio", TimelineOptions("otio"), 81, (64, 48))


@pytest.mark.parametrize("fmt", ["otio", "edl"])
def test_a_cut_off_clip_names_the_shot_and_writes_nothing(project, tmp_path, fmt):
    clip = project.folder / project.story.shots[3].accepted().clip
    clip.write_bytes(clip.read_bytes()[:1500])  # a copy that stopped part way: there, not empty, no use
    out = tmp_path / f"cut{FORMATS[fmt].suffix}"
    with pytest.raises(HandoffError, match=r"shot 4: the accepted take's clip takes/.* cannot be read \(.+\): "
                                           "regenerate the shot or accept another take"):
        export_timeline(project, out, TimelineOptions(fmt, collect_media=True), 81, (64, 48))
    assert not out.exists()


def test_a_project_without_any_take_exports_as_gaps(tmp_path):
    project = make_project(tmp_path / "Empty.storymem", shots=4)
    out = _export(project, tmp_path, "otio")
    track = otio.adapters.read_from_file(str(out)).video_tracks()[0]
    assert [type(i).__name__ for i in track] == ["Gap"] * 4 and track.duration().value == 32
    assert all(i.metadata["storymem"]["prompt"] for i in track)
    for fmt in ("edl", "fcp7"):  # they keep no gap after the last clip: an empty file said "0 clips, 4 gaps"
        out = tmp_path / f"cut{FORMATS[fmt].suffix}"
        with pytest.raises(HandoffError, match="no shot has a take yet.*it would be empty.*export empty shots as "
                                               "cards"):
            export_timeline(project, out, TimelineOptions(fmt), 81, (64, 48))
        assert not out.exists()


def test_thousand_shots_every_format(tmp_path):
    project = make_project(tmp_path / "Long.storymem", shots=1000)
    add_take(project, 0, 9)
    shared = project.story.shots[0].accepted().clip
    for index in range(2, 1000, 2):
        add_take(project, index, 9, clip=shared)  # one small clip for 500 shots: no encoding per shot
    project.save()
    project = load_project(project.folder)
    timeline = read_timeline(_export(project, tmp_path, "otio"))
    track = timeline.video_tracks()[0]
    assert len(track) == 1000 and track[998].name == "Shot 999 - Take 1"
    assert track.duration().value == 500 * 9 + 500 * 8
    for fmt in ("fcp7", "fcpx", "edl"):
        back = read_timeline(_export(project, tmp_path, fmt))
        clips = [i for i in back.video_tracks()[0] if isinstance(i, otio.schema.Clip)]
        assert len(clips) == 500 and clips[-1].name == "Shot 999 - Take 1", fmt
        assert back.video_tracks()[0].duration().to_seconds() == (500 * 9 + 499 * 8) / 16


def test_plan_times_takes_and_cards(project):
    plan = plan_handoff(project, 81)
    assert [p.frames for p in plan] == [f for _n, f in EXPECTED]
    assert [p.start for p in plan] == [0, 9, 17, 30, 39, 47]
    assert [p.opens_scene for p in plan] == [True, False, False, True, False, False]
    project.story.shots[1].duration_s = None
    assert plan_handoff(project, 17)[1].frames == 17  # no take, no own length: the project's default frames


def test_shot_size_and_camera_move_are_read_strictly():
    shot = Shot(prompt="x", id="s1", shot_size="medium close-up", camera_move="crane up")
    assert Shot.from_dict(json.loads(json.dumps(shot.to_dict()))) == shot
    assert Shot.from_dict({"id": "s1", "prompt": "x"}).shot_size == ""  # older projects: not set
    with pytest.raises(StoryError, match="shot s1, shot_size: 'huge' is not one of"):
        Shot.from_dict({"id": "s1", "prompt": "x", "shot_size": "huge"})
    with pytest.raises(StoryError, match="shot s1, camera_move: 3 is not one of"):
        Shot.from_dict({"id": "s1", "prompt": "x", "camera_move": 3})


def test_shot_list_has_the_crew_fields_and_seconds(project, tmp_path):
    out = tmp_path / "shots.csv"
    write_shot_list(project.story, ["done"] * 6, out, 81)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["seconds"] for r in rows] == [f"{f / 16:.3f}" for _n, f in EXPECTED]
    assert (rows[0]["shot_size"], rows[0]["camera_move"], rows[1]["shot_size"]) == ("wide", "dolly in", "close-up")
    assert rows[1]["prompt"].startswith("Mara climbs the spiral stairs — «à bientôt»")
    # The accepted take by the number the takes list and the clip names say, not its internal id.
    assert [r["accepted_take"] for r in rows] == ["1", "", "2", "1", "", ""]


def test_a_scene_has_one_scene_marker_and_a_cut_inside_it_its_own(tmp_path):
    """The sample's scene 1 opens with a cut and has two more: 'Scene 1' three times read as three scenes."""
    project = make_project(tmp_path / "Cuts.storymem", shots=6)
    project.story.shots[1].cut = True  # a cut inside scene 1
    project.save()
    out = _export(project, tmp_path, "otio")
    track = otio.adapters.read_from_file(str(out)).video_tracks()[0]
    marks = [[(m.name, m.color) for m in item.markers] for item in track]
    red, yellow = otio.schema.MarkerColor.RED, otio.schema.MarkerColor.YELLOW
    assert marks == [[("Scene 1", red)], [("Scene 1 cut", yellow)], [], [("Scene 2", red)], [], []]
