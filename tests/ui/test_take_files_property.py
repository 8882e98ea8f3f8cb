"""A project's take files are files a sync tool, a full disk or a user can damage. Whatever happened to them (gone,
emptied, cut off anywhere, bytes written over, replaced by something else), everything that reads them answers in
words: the card's status, a rerun's reason, the film and timeline exports; never an exception the app does not
expect."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ui_helpers import add_take

from storyboard.film_export import FilmError, export_film
from storyboard.frames import first_frame
from storyboard.handoff import HandoffError
from storyboard.timeline_export import TimelineOptions, export_timeline
from storymem_engine.director import Director, DirectorSettings
from storymem_engine.engine import EngineSettings, StoryMemEngine
from storymem_engine.project import Project, missing_or_empty
from storymem_engine.story import Shot, Story

DAMAGE = st.sampled_from(["none", "delete", "empty", "cut", "overwrite", "garbage", "swap"])


def _damage(path: Path, how: str, fraction: float, byte: int, other: Path) -> None:
    raw = bytearray(path.read_bytes())
    if how == "delete":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "cut":
        path.write_bytes(bytes(raw[: int(len(raw) * fraction)]))
    elif how == "overwrite" and raw:
        raw[int((len(raw) - 1) * fraction)] = byte
        path.write_bytes(bytes(raw))
    elif how == "garbage":
        path.write_bytes(bytes([byte]) * int(1 + 300 * fraction))
    elif how == "swap":  # a keyframe where the clip should be, or the other way round
        shutil.copyfile(other, path)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(damages=st.lists(st.tuples(st.integers(0, 2), st.booleans(), DAMAGE, st.floats(0, 1), st.integers(0, 255)),
                        min_size=1, max_size=4))
def test_any_damage_to_take_files_is_told_in_words(qapp, damages):
    with tempfile.TemporaryDirectory() as folder:
        project = Project(folder=Path(folder), story=Story(name="d", shots=[
            Shot(prompt=f"shot {n}", cut=n == 0, scene_num=1) for n in range(3)]))
        for n in range(3):
            add_take(project, n, frames=13, keyframes=1)
        takes = [shot.accepted() for shot in project.story.shots]
        for shot, clip, how, fraction, byte in damages:
            target = project.resolve(takes[shot].clip if clip else takes[shot].keyframes[0])
            other = project.resolve(takes[shot].keyframes[0] if clip else takes[shot].clip)
            if target.is_file() and other.is_file():
                _damage(target, how, fraction, byte, other)
                event(f"{'clip' if clip else 'keyframe'} {how}")

        director = Director(project, StoryMemEngine(EngineSettings(engine="tiny")),
                            DirectorSettings(width=64, height=48, frames=13, steps=2))
        not_done = []
        for index, take in enumerate(takes):
            clip = project.resolve(take.clip)
            image, why = first_frame(clip, frames=take.frames)  # what a card asks: DONE, MISSING or DAMAGED
            assert (image is None) == bool(why) or missing_or_empty(clip)
            reason = director.why_regenerate(index)  # what a rerun says
            assert isinstance(reason, str)
            if image is None:
                assert reason, "a take whose card is not DONE must not be kept by a rerun"
                not_done.append(index + 1)
        # An editor's timeline takes exactly the clips whose cards say DONE: any other is refused by shot number.
        timeline = Path(folder) / "cut.otio"
        try:
            export_timeline(project, timeline, TimelineOptions("otio"), 13, (64, 48))
            assert not not_done, f"shots {not_done} are not DONE, yet the timeline took their clips"
        except HandoffError as refused:
            assert not_done and str(refused).startswith(f"shot {not_done[0]}: "), str(refused)
            assert not timeline.exists()
        out = Path(folder) / "film.mp4"
        try:
            frames = export_film(project, out, 13, (64, 48))
        except FilmError as refused:
            assert str(refused).startswith("shot ")  # names the shot
            assert not out.exists()
            event("film refused")
            return
        event("film written")
        assert frames == 39 and out.is_file()
