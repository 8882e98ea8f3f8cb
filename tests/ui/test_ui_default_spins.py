"""The inspector's Frames, Steps and Guidance: the arrows step from the project's default, frames only to counts
the model makes (4n+1, at least 5)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from storyboard.default_spins import frame_count


def test_the_arrows_start_from_the_default_and_frames_stay_makeable(window):
    inspector = window.inspector
    shot = window.project.story.shots[window.current_row()]
    frames, steps, guidance = inspector.frames, inspector.steps, inspector.guidance
    assert frames.value() == 0 and frames.text() == "default (81)"
    frames.stepUp()  # was 4: "frames must be 4n+1 and at least 5" when generated
    assert frames.value() == 85 and shot.frames == 85
    frames.stepDown()
    frames.stepDown()
    assert shot.frames == 77
    frames.setValue(5)
    frames.stepDown()  # below the smallest count: back to the default
    assert frames.value() == 0 and shot.frames is None
    steps.stepUp()
    assert shot.steps == 41  # was 1
    guidance.stepDown()
    assert shot.guidance == 3.0  # was "default" -> 0.5 up only
    inspector.duration.stepUp()  # the animatic card: from its 81 frames' 5.06 s, on the 0.5 s grid
    assert shot.duration_s == 5.5

    # A typed count snaps to the nearest one the model makes when the field is left.
    frames.selectAll()
    QTest.keyClicks(frames.lineEdit(), "80")
    QTest.keyClick(frames.lineEdit(), Qt.Key.Key_Return)
    assert frames.value() == 81 and shot.frames == 81


def test_every_count_snaps_to_one_the_model_makes():
    assert [frame_count(n) for n in (0, 1, 4, 5, 6, 7, 8, 9, 80, 81, 82, 1001)] == \
        [0, 5, 5, 5, 5, 9, 9, 9, 81, 81, 81, 1001]
    assert all(frame_count(n) % 4 == 1 and frame_count(n) >= 5 for n in range(1, 1002))
