"""Playback > Set in point (I), Set out point (O), Clear in and out (Alt+X): trim the take shown in the preview at
the player's frame, as one undo step each. Trimming changes the cut only (film, playback, hand-offs, running
time); the memory and a continuing shot's first frame come from the whole take, so nothing turns stale."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storyboard.trim_points import cut_jumps, trim_words, with_in, with_out
from storyboard.undo_commands import TrimTakeCommand
from storymem_engine.story import Shot, Take

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow


STEP_NAMES = {"in": "Set in point", "out": "Set out point", "clear": "Clear in and out points"}


class TakeTrim:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def set_in(self) -> None:
        self._trim("in")

    def set_out(self) -> None:
        self._trim("out")

    def clear(self) -> None:
        self._trim("clear")

    def drag(self, which: str, frame: int) -> None:
        """A handle of the player's trim bar let go on ``frame``: the in point there, or the last frame on the cut."""
        self._trim(which, frame)

    def _shown(self) -> tuple[Shot, Take, int] | str:
        """The shot, the take in the player and the player's frame; else why there is nothing to trim."""
        preview = self.window.preview
        shot, take, player = preview.shot, preview.current_take(), preview.player
        if shot is None or take is None:
            return "Select a shot with a take to trim it."
        if take.frames <= 0:
            return f"Take {take.number} did not record how many frames it has, so it cannot be trimmed."
        try:
            shown = player.path is not None and player.path == self.window.project.resolve(take.clip)
        except ValueError:  # a clip path that leaves the project: the preview said so already
            shown = False
        if not shown or not player.frames:
            return "The take's clip is still loading (or does not play): trim it once it shows in the preview."
        return shot, take, player.slider.value()

    def _trim(self, what: str, at: int | None = None) -> None:
        """``what`` ("in", "out", "clear") at the player's frame, or at frame ``at`` (a dragged handle)."""
        window = self.window
        shown = self._shown()
        if isinstance(shown, str):
            window.statusBar().showMessage(shown, 6000)
            return
        shot, take, frame = shown
        frame = frame if at is None else at
        points = with_in(take, frame) if what == "in" else with_out(take, frame) if what == "out" else (0, 0)
        if points == (take.trim_in, take.trim_out):
            window.statusBar().showMessage("The in and out points are already there." if what != "clear" else
                                           "The take plays whole already.", 5000)
            return
        number = window.project.story.shot_index(shot.id) + 1
        text = f"{STEP_NAMES[what]} of shot {number}"  # as Edit > Undo history lists it
        window.undo_stack.push(TrimTakeCommand(window.model, shot.id, take.id, points, text))
        said = trim_words(take) or f"all {take.frames} frames on the cut"
        jump = cut_jumps(window.project.story.shots, number - 1) if take is shot.accepted() else ""
        window.statusBar().showMessage(f"Shot {number}, take {take.number}: {said}"
                                       f"{'; ' + jump if jump else ''} (Edit > Undo puts it back)", 10000)

