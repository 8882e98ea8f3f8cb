"""Attach a cast member to shots: every shot, a range (from shot N to shot M), listed shots, or none."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from storyboard.note_label import NoteLabel
from storyboard.shot_fields import first_words
from storymem_engine.cast import CastMember, attached_rows
from storymem_engine.story import Story


class AttachDialog(QDialog):
    def __init__(self, story: Story, member: CastMember, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Attach “{member.name}” to shots")
        self.story = story
        count = len(story.shots)
        rows = sorted(attached_rows(story, member))
        self.every = QRadioButton("Every shot (shots added later too)")
        self.range = QRadioButton("From shot")
        self.listed = QRadioButton("Only these shots:")
        self.none = QRadioButton("Not attached (kept in the cast)")
        group = QButtonGroup(self)
        for button in (self.every, self.range, self.listed, self.none):
            group.addButton(button)
        self.first = QSpinBox()
        self.last = QSpinBox()
        for spin in (self.first, self.last):
            spin.setRange(1, max(count, 1))
        self.first.setValue(rows[0] + 1 if rows else 1)
        self.last.setValue(rows[-1] + 1 if rows else max(count, 1))
        self.shots = QListWidget()
        self.shots.setObjectName("attach_shots")
        for n, shot in enumerate(story.shots):
            item = QListWidgetItem(f"Shot {n + 1}: {first_words(shot.prompt, 12)}")
            item.setToolTip(shot.prompt)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if n in rows else Qt.CheckState.Unchecked)
            self.shots.addItem(item)
        whole = member.attach == "range" and not member.from_shot and not member.to_shot
        (self.none if member.attach == "none" else self.listed if member.attach == "shots"
         else self.every if whole else self.range).setChecked(True)
        # Wide enough for the note in two lines and the shots' prompts (a 278 px dialog cut them after 4 words).
        note = NoteLabel("Attached to the first shot, the member's images are its memory: it is generated from them "
                         "(MR2V). Elsewhere they take memory slots like keyframes.")
        grid = QGridLayout()
        grid.addWidget(self.every, 0, 0, 1, 4)
        grid.addWidget(self.range, 1, 0)
        grid.addWidget(self.first, 1, 1)
        grid.addWidget(QLabel("to shot"), 1, 2)
        grid.addWidget(self.last, 1, 3)
        grid.addWidget(self.listed, 2, 0, 1, 4)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(grid)
        layout.addWidget(self.shots, 1)
        layout.addWidget(self.none)
        layout.addWidget(buttons)
        # The list shows the shots the chosen option attaches; it is edited only under "Only these shots" (it
        # stayed editable, still ticked as before, with a range chosen).
        for button in (self.every, self.range, self.listed, self.none):
            button.toggled.connect(self._follow)
        for spin in (self.first, self.last):
            spin.valueChanged.connect(self._follow)
        self._follow()

    def _follow(self) -> None:
        listed = self.listed.isChecked()
        self.shots.setEnabled(listed)
        for spin in (self.first, self.last):
            spin.setEnabled(self.range.isChecked())
        if listed:
            return
        low, high = sorted((self.first.value() - 1, self.last.value() - 1))
        for n in range(self.shots.count()):
            on = self.every.isChecked() or self.range.isChecked() and low <= n <= high
            self.shots.item(n).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def values(self) -> dict:
        """The member's attach fields: attach, from_shot, to_shot, shots (ids of the story's shots)."""
        ids = [shot.id for shot in self.story.shots]
        if self.none.isChecked():
            return dict(attach="none", from_shot="", to_shot="", shots=[])
        if self.listed.isChecked():
            checked = [ids[n] for n in range(self.shots.count())
                       if self.shots.item(n).checkState() == Qt.CheckState.Checked]
            return dict(attach="shots", from_shot="", to_shot="", shots=checked)
        if self.every.isChecked() or not ids:
            return dict(attach="range", from_shot="", to_shot="", shots=[])
        first, last = sorted((self.first.value() - 1, self.last.value() - 1))
        # An end at the story's edge stays open, so shots added before or after are covered too.
        return dict(attach="range", from_shot=ids[first] if first > 0 else "",
                    to_shot=ids[last] if last < len(ids) - 1 else "", shots=[])
