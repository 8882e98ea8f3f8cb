"""Watching the cut in the preview: Space plays and pauses the selected shot; Playback > Play the cut from here
(Shift+Space, or the player's Play on) goes on through the following shots, each its accepted take or, without
one, its animatic card as the exported film shows it, selecting each card as it plays."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from storymem_engine.shot_timing import clock, seconds, shot_frames

if TYPE_CHECKING:
    from storyboard.clip_player import ClipPlayer
    from storyboard.main_window import MainWindow


class Playback:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        window.preview.next_requested.connect(self._next)

    @property
    def player(self) -> ClipPlayer:
        return self.window.preview.player

    def play_pause(self) -> None:
        self.player.toggle_play()

    def step(self, frames: int) -> None:
        """One frame back or on (, and .), paused there: to find a cut point frame by frame."""
        self._show_paused(lambda player: player.slider.value() + frames)

    def go_to_point(self, which: str) -> None:
        """Shift+I / Shift+O: the shown take's first or last frame on the cut."""
        self._show_paused(lambda player: player.play_range()[0 if which == "in" else 1])

    def _show_paused(self, frame: Callable[[ClipPlayer], int]) -> None:
        player = self.player
        if not player.frames:
            return
        if player.play_button.isChecked():
            player.toggle_play()
        player.show_frame(frame(player))

    def play_cut(self) -> None:
        """From the start of the selected shot (the first one when none is) to the end of the story."""
        window = self.window
        shots = window.project.story.shots
        if not shots:
            return
        row = window.current_row()
        if row is None:
            row = 0
            window.edits.select_shots([shots[0].id])
        if not self.player.play_on.isChecked():
            self.player.play_on.setChecked(True)
            self.player.play_on_for_cut = True
        self.player.autoplay = True
        window.preview.set_shot(window.project, shots[row])  # from its first frame, its card when it has no take
        self._prefetch(row + 1)
        left = seconds(sum(shot_frames(shot, window.exports.cut_defaults()[0]) for shot in shots[row:]))
        window.statusBar().showMessage(f"Playing the cut from shot {row + 1} ({clock(left)}); Space pauses.", 5000)

    def _next(self) -> None:
        window = self.window
        shots = window.project.story.shots
        row = window.current_row()
        if row is None or row + 1 >= len(shots):
            self.player.stop_autoplay()
            window.statusBar().showMessage(f"End of the cut ({len(shots)} shots).", 5000)
            return
        self.player.autoplay = True
        window.edits.select_shots([shots[row + 1].id])
        self._prefetch(row + 2)

    def _prefetch(self, row: int) -> None:
        """Start decoding the accepted clip of shot ``row`` while the one before it plays."""
        project = self.window.project
        if row >= len(project.story.shots):
            return
        take = project.story.shots[row].accepted()
        if take is not None and take.status == "done" and take.clip and not project.file_missing(take.clip):
            self.player.prefetch(project.resolve(take.clip))
