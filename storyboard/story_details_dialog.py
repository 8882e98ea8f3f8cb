"""File > Story name and overview: what titles the storyboard PDF, the exported timelines and the story script.

A new project was "Untitled story" in every export for good: the window's title showed the project's file name,
and nothing let the user set the story's own."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from storyboard.dialog_body import fit_screen
from storyboard.file_names import UNTITLED_STORY
from storyboard.note_label import NoteLabel


class StoryDetailsDialog(QDialog):
    def __init__(self, name: str, overview: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Story name and overview")
        note = NoteLabel("The name titles the storyboard PDF, the exported timelines and the story script; the "
                         "overview opens the PDF's title page and goes out with the script (its story_overview). "
                         "The project's file keeps its own name.")
        self.name = QLineEdit(name)
        self.name.setObjectName("story_name")
        self.name.setPlaceholderText(UNTITLED_STORY)
        self.overview = QPlainTextEdit(overview)
        self.overview.setObjectName("story_overview")
        self.overview.setTabChangesFocus(True)  # Tab reaches OK, as in the other fields
        self.overview.setPlaceholderText("What the story is about, in a few sentences (optional)")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Overview", self.overview)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form, 1)
        layout.addWidget(buttons)
        self.name.setMinimumWidth(420)
        self.overview.setMinimumHeight(140)
        fit_screen(self)
        self.name.setFocus()
        self.name.selectAll()

    def values(self) -> tuple[str, str]:
        """(name, overview) as they will be saved: a blank name is the untitled one, as the exports would say."""
        name = " ".join(self.name.text().split()) or UNTITLED_STORY
        return name, self.overview.toPlainText().strip()
