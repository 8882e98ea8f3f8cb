"""Playback > Compare takes (Ctrl+Shift+T): two takes of the shown shot side by side, each between its in and out
points, scrubbing and playing frame for frame together, with Accept under each: after a regenerate, the old take and
the new one judged at once instead of one after the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QPushButton,
    QVBoxLayout,
)

from storyboard.clip_player import ClipPlayer
from storyboard.trim_points import trim_words
from storymem_engine.story import Shot, Take

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow


def comparable(shot: Shot | None) -> list[Take]:
    """The shot's takes that have a clip to play."""
    return [t for t in (shot.takes if shot is not None else []) if t.status == "done" and t.clip]


def _label(shot: Shot, take: Take) -> str:
    seed = take.request.get("seed")
    parts = [f"Take {take.number}", f"seed {seed}" if seed is not None else "", trim_words(take)]
    return ("★ " if take.id == shot.accepted_take else "") + " · ".join(p for p in parts if p)


class CompareTakesDialog(QDialog):
    def __init__(self, window: MainWindow, shot: Shot) -> None:
        super().__init__(window)
        self.window_, self.shot = window, shot
        number = window.project.story.shot_index(shot.id) + 1
        self.setWindowTitle(f"Compare takes of shot {number}")
        takes = comparable(shot)
        self.players = (ClipPlayer(), ClipPlayer())
        self.choices = (QComboBox(), QComboBox())
        self.accepts = (QPushButton("Accept this take"), QPushButton("Accept this take"))
        self.together = QCheckBox("Scrub and play together")
        self.together.setChecked(True)
        self._following = False  # one player moving the other: its echo is not passed back
        grid = QGridLayout()
        newest_other = next((t for t in reversed(takes) if t.id != shot.accepted_take), takes[-1])
        first = shot.accepted() if shot.accepted() in takes else takes[0]
        for side, (player, choice, accept) in enumerate(zip(self.players, self.choices, self.accepts, strict=True)):
            player.play_on.hide()  # no next shot here
            for take in takes:
                choice.addItem(_label(shot, take), take.id)
            choice.setCurrentIndex(takes.index(first if side == 0 else newest_other))
            choice.currentIndexChanged.connect(lambda _i, s=side: self._show(s))
            accept.clicked.connect(lambda _c=False, s=side: self.accept_side(s))
            player.slider.valueChanged.connect(lambda value, s=side: self._follow(s, value))
            player.play_button.toggled.connect(lambda playing, s=side: self._play_together(s, playing))
            grid.addWidget(choice, 0, side)
            grid.addWidget(player, 1, side)
            grid.addWidget(accept, 2, side)
        grid.setRowStretch(1, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid, 1)
        layout.addWidget(self.together)
        layout.addWidget(buttons)
        self.resize(1100, 520)
        for side in (0, 1):
            self._show(side)
        # Deleted when closed (its decoded frames with it); the connection goes with the dialog.
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.undo_stack.indexChanged.connect(self.story_changed)

    def story_changed(self) -> None:
        """An edit or an undo in the window: the stars and buttons follow; a take gone (deleted, or its shot)
        closes the comparison."""
        shots = self.window_.project.story.shots
        if self.shot not in shots or any(self.take(side) is None for side in (0, 1)):
            self.close()
            return
        for choice in self.choices:  # the star follows the accepted take
            for row in range(choice.count()):
                shown = self.shot.take(choice.itemData(row))
                if shown is not None:
                    choice.setItemText(row, _label(self.shot, shown))
        self._update_accepts()

    def take(self, side: int) -> Take | None:
        return self.shot.take(self.choices[side].currentData())

    def _show(self, side: int) -> None:
        take = self.take(side)
        if take is None:
            return
        try:
            path = self.window_.project.resolve(take.clip)
        except ValueError as exc:
            self.players[side].clear(str(exc))
            return
        self.players[side].load(path, take.trim_range)
        self._update_accepts()

    def _update_accepts(self) -> None:
        for side, accept in enumerate(self.accepts):
            take = self.take(side)
            accepted = take is not None and take.id == self.shot.accepted_take
            accept.setEnabled(take is not None and not accepted)
            accept.setText("Accepted" if accepted else "Accept this take")

    def _follow(self, side: int, value: int) -> None:
        """The other player shows the same frame counted from each take's in point (the takes may be trimmed
        differently), while "together" is on."""
        other = self.players[1 - side]
        if self._following or not self.together.isChecked() or not other.frames:
            return
        self._following = True
        try:
            offset = value - self.players[side].play_range()[0]
            other.show_frame(other.play_range()[0] + offset)
        finally:
            self._following = False

    def _play_together(self, side: int, playing: bool) -> None:
        """Play on one plays the other along: one clock (this side's), the other follows its frames."""
        other = self.players[1 - side]
        if self._following or not self.together.isChecked():
            return
        self._following = True
        try:
            other.timer.stop()
            other.play_button.setChecked(False)
        finally:
            self._following = False
        if playing:
            self._follow(side, self.players[side].slider.value())

    def accept_side(self, side: int) -> None:
        take = self.take(side)
        if take is None or take.id == self.shot.accepted_take:
            return
        self.window_.edits.accept_take(self.shot.id, take.id)  # the undo stack's change refreshes the labels
        self.window_.statusBar().showMessage(
            f"Accepted take {take.number} (Edit > Undo takes the other back)", 6000)


def open_compare_takes(window: MainWindow) -> CompareTakesDialog | None:
    """Compare the shown shot's takes; a shot with fewer than two says so on the status bar."""
    shot = window.preview.shot
    if len(comparable(shot)) < 2:
        window.statusBar().showMessage("Compare takes needs a shot with two takes or more: Generate > Generate shot "
                                       "makes another.", 6000)
        return None
    dialog = CompareTakesDialog(window, shot)
    dialog.setModal(False)
    dialog.show()
    return dialog
