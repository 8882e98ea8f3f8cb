"""Generate > Render settings: the open project's own size, frames, steps, guidance, seeds, memory and offload."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from storyboard.dialog_body import DialogBody, fit_screen
from storyboard.note_label import NoteLabel
from storyboard.render_settings_form import RenderSettingsForm
from storyboard.settings_dialog import problems_label, show_corrections
from storymem_engine.render_settings import RenderSettings


class RenderSettingsDialog(QDialog):
    def __init__(self, settings: RenderSettings, project_name: str, engine: str,
                 parent: QWidget | None = None, draft_unavailable: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Render settings — {project_name}")
        note = NoteLabel("These settings belong to this project: they are saved in its project.json, and "
                         "main.py render uses them too. A shot's own frames, steps, guidance or seed (in the "
                         "inspector) win over them. New projects start from Settings > Preferences > New projects.")
        self.form = RenderSettingsForm(settings, draft_unavailable=draft_unavailable)
        self.draft_note = NoteLabel()
        self.draft_note.setObjectName("draft_note")
        if engine == "tiny":
            # Follows the fields: what the tiny engine will really run as they are set now.
            form = self.form
            for signal in (form.size.currentTextChanged, form.frames.valueChanged, form.steps.valueChanged,
                           form.profile.currentIndexChanged):
                signal.connect(self._tiny_note)
            self._tiny_note()
        else:
            self.draft_note.hide()
        self.problems = problems_label()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(DialogBody(note, self.form, self.draft_note, self.problems), 1)
        layout.addWidget(buttons)
        fit_screen(self)

    def _tiny_note(self) -> None:
        d = self.form.values().drafted()
        steps = "4 distilled steps, CFG off (the Draft profile)" if d.profile == "draft" else f"{d.steps} steps"
        self.draft_note.setText(f"The tiny engine (a try-out) renders this project at {d.width}x{d.height}, "
                                f"{d.frames} frames, {steps}: values left at the production defaults become draft "
                                "settings.")

    def accept(self) -> None:
        if not show_corrections(self.form, self.problems):
            super().accept()

    def values(self) -> RenderSettings:
        return self.form.values()
