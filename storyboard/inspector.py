"""The shot inspector: prompt, scene cut, continuation mode, seed, frames, steps, guidance, the crew's shot size
and camera move, the shot's duration on the cut, notes.

It never edits the story itself: it emits ``edit_requested`` and the window turns that into an
undoable command, so typing, undo and redo all go through one path.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from storyboard.default_spins import DefaultDoubleSpinBox, DefaultSpinBox
from storyboard.note_label import NOTE_STYLE, NoteLabel
from storyboard.shortcut_passthrough import UndoShortcutPassthrough
from storyboard.shot_fields import SHARED_FIELDS
from storyboard.theme import show_keyboard_focus
from storymem_engine.models import LORA_FOLDERS
from storymem_engine.shot_timing import FPS, shot_frames
from storymem_engine.story import CAMERA_MOVES, SHOT_SIZES, Shot

NOTES_HEIGHT = 60

MODE_LABELS = {
    "auto": "auto (cut → M2V, continuation → MI2V)",
    "t2v": "T2V (no memory)",
    "m2v": "M2V (memory only)",
    "mi2v": "MI2V (memory + last frame)",
    "mm2v": "MM2V (memory + last 5 frames)",
}


class ShotInspector(QGroupBox):
    edit_requested = Signal(str, str, object, int)  # shot id, field, value, burst

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Shot", parent)
        self.setObjectName("inspector")
        self._shot: Shot | None = None
        self._loading = False
        self._burst = 0
        self._passthrough = UndoShortcutPassthrough(self)
        self._default_frames = 81

        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("prompt")
        self.prompt.setUndoRedoEnabled(False)
        self.prompt.setPlaceholderText("Describe the shot: who, where, what happens, camera.")
        self.prompt.setMinimumHeight(76)  # four lines; with the form, the window fits a 1440x900 screen
        # Short: the longer label set the inspector's minimum width (past a 1280-px window with the preview beside).
        self.cut = QCheckBox("Scene cut (starts fresh, not continuing)")
        self.cut.setToolTip("A scene cut is made from memory alone (M2V); without one the shot continues the shot "
                            "before.\nCtrl+K on the timeline toggles it for every selected shot.")
        self.mode = QComboBox()
        self.mode.setToolTip("auto: a scene cut starts the shot from memory alone (M2V); otherwise it continues "
                             "the previous shot as the project's Continuation says (Generate > Render settings).\n"
                             "T2V: from the prompt alone. M2V: memory keyframes, no continuation. MI2V: continues "
                             "the previous shot's last frame; MM2V: its last 5 frames (each needs the project's "
                             "Continuation set to it: one StoryMem LoRA per story).")
        for value, label in MODE_LABELS.items():
            self.mode.addItem(label, value)
        self.scene = QSpinBox()
        self.scene.setRange(1, 999)
        self.seed = _spin(-1, 2**31 - 1, "default (story seed + index)")
        self.seed.setAccessibleName("Seed")  # its row holds the Lock box too: the row's label names neither
        self.seed.setToolTip("Blank (default): the story seed plus the shot's index within its scene, as the official "
                             "StoryMem run (Generate > Render settings > Shot seeds). A number here fixes this "
                             "shot's seed.")
        self.seed_lock = QCheckBox("Lock")
        self.seed_lock.setObjectName("seed_lock")
        self.seed_lock.setToolTip("Locked: every new take of this shot reuses its seed (the number here, else the "
                                  "accepted take's).\nUnlocked: regenerating draws a new seed, so each take differs.")
        self.take_seed = QLabel()
        self.take_seed.setObjectName("take_seed")
        self.take_seed.setStyleSheet(NOTE_STYLE)
        self.frames = DefaultSpinBox(1001, step=4, frames=True)
        self.frames.setToolTip("Frames generated (4n+1, 16 per second). A shot that continues the previous one keeps "
                               "one frame fewer (MI2V: its first frame repeats the previous shot's last one)\nor "
                               "five fewer (MM2V: the previous shot's last 5 frames).")
        self.steps = DefaultSpinBox(200)
        self.guidance = DefaultDoubleSpinBox(30.0, 0.5)
        self.duration = DefaultDoubleSpinBox(120.0, 0.5)
        self.duration.setSuffix(" s")
        self.duration.setSpecialValueText("from frames")
        self.duration.setToolTip("How long the card lasts in the animatic (the storyboard played before any "
                                 "video exists);\n'from frames' uses the clip's length at 16 fps.")
        self.shot_size = _choices(SHOT_SIZES, "shot_size")
        self.shot_size.setToolTip("Framing, for the shot list, the PDF storyboard and the editors' timelines")
        self.camera_move = _choices(CAMERA_MOVES, "camera_move")
        self.camera_move.setToolTip("Camera movement, for the shot list, the PDF storyboard and the editors' "
                                    "timelines")
        self.profile = QComboBox()
        self.profile.setObjectName("profile")
        for key, label in (("", "project's"), ("final", "Final (the method)"),
                           ("draft", "Draft (4 distilled steps, memory fidelity unverified)")):
            self.profile.addItem(label, key)
        self.profile.setToolTip("This shot's quality profile; \"project's\" follows Generate > Render settings.\n"
                                "A draft shot ignores its own steps and guidance: the distilled LoRAs run 4 steps "
                                "without CFG.")
        self.cast = QLabel("—")
        self.cast.setObjectName("shot_cast")
        self.cast.setWordWrap(True)
        self.cast.setToolTip("Cast members attached to this shot (the Cast tab): their images lead its memory")
        self.cut_duration = QLabel()
        self.cut_duration.setObjectName("cut_duration")
        self.cut_duration.setToolTip(f"How long the shot runs on the cut at {FPS} fps: its accepted take, else "
                                     "its animatic card")
        self.notes = QPlainTextEdit()
        self.notes.setObjectName("notes")
        self.notes.setUndoRedoEnabled(False)
        self.notes.setMaximumHeight(NOTES_HEIGHT)
        self.empty_label = QLabel("Select a shot on the timeline.")

        self.selection_note = NoteLabel()
        self.selection_note.setObjectName("selection_note")
        self.selection_note.hide()

        for combo in (self.mode, self.profile, self.shot_size, self.camera_move):
            # Sized to a short text, not to their longest item (the open list still shows it whole).
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(18)
        form = QFormLayout()
        self.form = form
        form.addRow(self.selection_note)
        form.addRow("Prompt", self.prompt)
        form.addRow("", self.cut)
        form.addRow("Continuation", self.mode)
        form.addRow("Scene", self.scene)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_lock)
        form.addRow("Seed", seed_row)
        form.addRow("", self.take_seed)
        form.addRow("Frames", self.frames)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Profile", self.profile)
        form.addRow("Cast", self.cast)
        form.addRow("Animatic length", self.duration)
        form.addRow("Duration", self.cut_duration)
        form.addRow("Shot size", self.shot_size)
        form.addRow("Camera move", self.camera_move)
        form.addRow("Notes", self.notes)
        self.form_host = QWidget()
        self.form_host.setLayout(form)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.form_host)

        for widget in (self.prompt, self.notes, self.seed, self.frames, self.steps, self.guidance,
                       self.duration, self.scene, self.cut, self.mode, self.shot_size, self.camera_move, self.profile):
            widget.installEventFilter(self)
        for widget in (self.seed, self.frames, self.steps, self.guidance, self.duration, self.scene, self.mode,
                       self.shot_size, self.camera_move, self.profile):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel passing over a field does not focus it
        for widget in (self.prompt, self.notes):
            widget.installEventFilter(self._passthrough)
            show_keyboard_focus(widget)
            # Tab moves on, as in any form: a tab typed into a prompt is invisible, yet it made the take stale.
            widget.setTabChangesFocus(True)
        for spin in (self.seed, self.frames, self.steps, self.guidance, self.duration, self.scene):
            spin.installEventFilter(self._passthrough)

        self.prompt.textChanged.connect(lambda: self._emit("prompt", self.prompt.toPlainText()))
        self.notes.textChanged.connect(lambda: self._emit("notes", self.notes.toPlainText()))
        self.cut.toggled.connect(lambda on: self._emit("cut", bool(on)))
        self.seed_lock.toggled.connect(lambda on: self._emit("seed_locked", bool(on)))
        self.mode.currentIndexChanged.connect(lambda _i: self._emit("mode", self.mode.currentData()))
        self.shot_size.currentIndexChanged.connect(lambda _i: self._emit("shot_size", self.shot_size.currentData()))
        self.camera_move.currentIndexChanged.connect(
            lambda _i: self._emit("camera_move", self.camera_move.currentData()))
        self.profile.currentIndexChanged.connect(lambda _i: self._emit("profile", self.profile.currentData()))
        self.scene.valueChanged.connect(lambda v: self._emit("scene_num", int(v)))
        self.seed.valueChanged.connect(lambda v: self._emit("seed", None if v < 0 else int(v)))
        self.frames.valueChanged.connect(lambda v: self._emit("frames", int(v) or None))
        self.steps.valueChanged.connect(lambda v: self._emit("steps", int(v) or None))
        self.guidance.valueChanged.connect(lambda v: self._emit("guidance", float(v) or None))
        self.duration.valueChanged.connect(lambda v: self._emit("duration_s", float(v) or None))
        self.set_shot(None)

    def set_defaults(self, frames: int, steps: int, guidance: float) -> None:
        self._default_frames = frames
        self.frames.set_default(frames)
        self.steps.set_default(steps)
        self.guidance.set_default(guidance)
        self.refresh()  # the duration of a shot without its own frames follows the default

    def set_continuation(self, continuation: str) -> None:
        """Say what 'auto' continues with in this project, and which explicit continuation its LoRA cannot run."""
        for value in ("auto", *LORA_FOLDERS):  # one StoryMem LoRA per project: M2V and one continuation
            label = MODE_LABELS[value]
            if value == "auto":
                label = label.replace("→ MI2V", f"→ {continuation.upper()}")
            elif value != continuation:
                label += " · not this project's continuation"
            self.mode.setItemText(self.mode.findData(value), label)

    def show_cast(self, names: list[str]) -> None:
        self.cast.setText(", ".join(names) if names else "—")

    def show_selection(self, shots: list[Shot], which: str) -> None:
        """Several selected shots (``which`` in words) with the shown one among them: say that a setting changed here
        goes to all of them, and which settings they do not share."""
        if len(shots) < 2 or self._shot is None or all(shot is not self._shot for shot in shots):
            self.selection_note.hide()
            self.notes.setMaximumHeight(NOTES_HEIGHT)
            return
        differ = [words for name, words in SHARED_FIELDS.items()
                  if any(getattr(shot, name) != getattr(self._shot, name) for shot in shots)]
        text = f"Settings changed here go to {which}; the prompt and notes stay this shot's."
        if differ:
            text += f"\nThey differ in {', '.join(differ)}: shown is this shot's."
        self.selection_note.setText(text)
        self.selection_note.show()
        # The form fits a 1440x900 screen to the pixel: the notes box (this shot's alone) gives the note its room,
        # rather than a scroll bar appearing and the panels shifting as the selection grows.
        self.notes.setMaximumHeight(max(NOTES_HEIGHT - self.selection_note.sizeHint().height(), 24))

    @property
    def shot(self) -> Shot | None:
        return self._shot

    def set_shot(self, shot: Shot | None) -> None:
        self._shot = shot
        self._burst += 1
        self.form_host.setVisible(shot is not None)
        self.empty_label.setVisible(shot is None)
        self.refresh()

    def refresh(self) -> None:
        """Show the shot's current values (after undo/redo or a model change) without emitting edits."""
        shot = self._shot
        if shot is None:
            return
        self._loading = True
        try:
            _set_text(self.prompt, shot.prompt)
            _set_text(self.notes, shot.notes)
            self.cut.setChecked(shot.cut)
            self.mode.setCurrentIndex(max(self.mode.findData(shot.mode), 0))
            self.scene.setValue(shot.scene_num)
            self.seed.setValue(-1 if shot.seed is None else shot.seed)
            self.seed_lock.setChecked(shot.seed_locked)
            take = shot.accepted()
            seed = take.request.get("seed") if take is not None else None
            self.take_seed.setText(
                "" if seed is None else f"Accepted take's seed: {seed}" + (
                    " (drawn for this take)" if take.request.get("seed_rule") == "fresh" else ""))
            self.form.setRowVisible(self.take_seed, seed is not None)  # no blank row between Seed and Frames
            self.frames.setValue(shot.frames or 0)
            self.steps.setValue(shot.steps or 0)
            self.guidance.setValue(shot.guidance or 0.0)
            self.duration.setValue(shot.duration_s or 0.0)
            self.shot_size.setCurrentIndex(max(self.shot_size.findData(shot.shot_size), 0))
            self.camera_move.setCurrentIndex(max(self.camera_move.findData(shot.camera_move), 0))
            self.profile.setCurrentIndex(max(self.profile.findData(shot.profile), 0))
            frames = shot_frames(shot, self._default_frames)
            self.duration.default_value = (shot.frames or self._default_frames) / FPS  # the arrows start there
            how = ", animatic card" if take is None else f", trimmed from {take.frames}" if take.trimmed else ""
            self.cut_duration.setText(f"{frames / FPS:.2f} s ({frames} frames at {FPS} fps{how})")
        finally:
            self._loading = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn:
            self._burst += 1  # returning to a field starts a new undo step
        if (event.type() == QEvent.Type.Wheel and isinstance(watched, QAbstractSpinBox | QComboBox)
                and not watched.hasFocus()):
            # Scrolling the panels (a laptop screen) past Frames or Steps must not change the shot: the wheel
            # scrolls what holds the form; a field takes it once it was clicked or tabbed into.
            holder = _scroll_area_around(watched)
            if holder is not None:
                QApplication.sendEvent(holder.viewport(), event)
            return True
        return False

    def edit_prompt(self) -> None:
        """Type into the shown shot's prompt, the cursor at the end (Enter on a card, a new shot)."""
        if self._shot is None:
            return
        self.prompt.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.prompt.moveCursor(QTextCursor.MoveOperation.End)

    def _emit(self, name: str, value: Any) -> None:
        if self._loading or self._shot is None or getattr(self._shot, name) == value:
            return
        self.edit_requested.emit(self._shot.id, name, value, self._burst)


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def _spin(low: int, high: int, special: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSpecialValueText(special)
    return spin


def _choices(values: tuple[str, ...], name: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for value in values:
        combo.addItem(value or "—", value)
    return combo


def _set_text(edit: QPlainTextEdit, text: str) -> None:
    if edit.toPlainText() == text:
        return
    position = edit.textCursor().position()
    edit.setPlainText(text)
    cursor = edit.textCursor()
    cursor.setPosition(min(position, len(text)), QTextCursor.MoveMode.MoveAnchor)
    edit.setTextCursor(cursor)
