"""Edit > Find and replace in prompts: a live count of what would change, and one undoable Replace all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from storyboard.memory import prompt_changed
from storyboard.note_label import NoteLabel
from storyboard.prompt_replace import PromptReplace, count_matches, replaced_prompts
from storyboard.shot_numbers import shots_in_words
from storyboard.undo_commands import EditShotCommand

if TYPE_CHECKING:
    from collections.abc import Callable

    from storyboard.main_window import MainWindow


HINT = "A replaced prompt makes its shot's take stale; Edit > Undo puts every prompt back."


class FindReplaceDialog(QDialog):
    """Non-modal: the timeline stays usable while it is open. ``apply(spec, rows)`` does the replacing and returns
    what it did in words; ``prompts()``, ``first_frames()`` (the script's first-frame prompts, no card shows them)
    and ``selected()`` read the story as it is now."""

    def __init__(self, prompts: Callable[[], list[str]], selected: Callable[[], list[int]],
                 apply: Callable[[PromptReplace, list[int]], str], parent: QWidget | None = None,
                 first_frames: Callable[[], list[str]] = list) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find and replace in prompts")
        self._prompts, self._selected, self._apply, self._first_frames = prompts, selected, apply, first_frames
        self.find = QLineEdit()
        self.find.setPlaceholderText("text in the prompts, e.g. a character's name")
        self.replace = QLineEdit()
        self.replace.setPlaceholderText("what replaces it (empty: remove it)")
        self.match_case = QCheckBox("Match case")
        self.whole_words = QCheckBox("Whole words")
        self.scope = QComboBox()
        self.scope.addItem("Every shot", "all")
        self.scope.addItem("Selected shots", "selected")
        options = QHBoxLayout()
        for widget in (self.match_case, self.whole_words):
            options.addWidget(widget)
        options.addStretch(1)
        form = QFormLayout()
        form.addRow("Find", self.find)
        form.addRow("Replace with", self.replace)
        form.addRow("", options)
        form.addRow("In", self.scope)
        self.count = QLabel()
        self.count.setObjectName("replace_count")
        self.result = NoteLabel(HINT)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.replace_all = buttons.addButton("Replace all", QDialogButtonBox.ButtonRole.ApplyRole)
        self.replace_all.clicked.connect(self.run)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.count)
        layout.addWidget(self.result)
        layout.addWidget(buttons)
        # Enter in Find or Replace with: Replace all. Set once the buttons are in the dialog (a default button is the
        # dialog's), and Close never becomes the default by taking the focus.
        buttons.button(QDialogButtonBox.StandardButton.Close).setAutoDefault(False)
        self.replace_all.setDefault(True)
        for field in (self.find, self.replace):
            field.textChanged.connect(self.refresh)
            field.textChanged.connect(lambda _text: self.result.setText(HINT))  # the last result was for other text
        for box in (self.match_case, self.whole_words):
            box.toggled.connect(self.refresh)
        self.scope.currentIndexChanged.connect(self.refresh)
        self.setMinimumWidth(520)
        self.refresh()

    def spec(self) -> PromptReplace:
        return PromptReplace(self.find.text(), self.replace.text(), self.match_case.isChecked(),
                             self.whole_words.isChecked())

    def rows(self) -> list[int]:
        if self.scope.currentData() == "selected":
            return self._selected()
        return list(range(len(self._prompts())))

    def refresh(self) -> None:
        """The count for what is typed now, over the shots as they are now (called again when the story changes)."""
        prompts = self._prompts()
        rows = [row for row in self.rows() if row < len(prompts)]
        matches, hit = count_matches([prompts[row] for row in rows], self.spec())
        where = "the selected shots" if self.scope.currentData() == "selected" else "the prompts"
        if not self.find.text():
            self.count.setText("Type the text to find.")
        elif not matches:
            self.count.setText(f"Not found in {where}.")
        else:
            self.count.setText(f"{matches} match{'es' * (matches != 1)} in {shots_in_words([rows[i] for i in hit])}.")
        first_frames = self._first_frames()
        hidden, _ = count_matches([first_frames[row] for row in rows if row < len(first_frames)], self.spec())
        if hidden:  # a rename half done would go back out in the story script, where render reads it
            self.count.setText(f"{self.count.text()} Also {hidden} in their first-frame prompts (from the story "
                               "script; no card shows them): replaced with them.")
        self.replace_all.setEnabled(matches + hidden > 0)

    def story_changed(self) -> None:
        """An edit or an undo anywhere: the count follows the story while the dialog is open, and the last Replace
        all's words go (after its Undo they said what no longer was). Hidden first when the window closes, so never
        while its widgets are being deleted."""
        if self.isVisible():
            self.result.setText(HINT)
            self.refresh()

    def selection_changed(self) -> None:
        """In the selected shots: the count is for the shots selected now (Replace all changed more than it said)."""
        if self.isVisible() and self.scope.currentData() == "selected":
            self.refresh()

    def run(self) -> None:
        said = self._apply(self.spec(), self.rows())  # its undo step clears the result first
        self.result.setText(said)
        self.refresh()


def open_find_replace(window: MainWindow) -> FindReplaceDialog:
    """Show the window's one find-and-replace dialog, its Find field ready, in the selected shots when several
    are selected."""
    dialog = window.find_replace_dialog
    if dialog is None:
        dialog = FindReplaceDialog(lambda: [shot.prompt for shot in window.model.shots], window.edits.selected_rows,
                                   lambda spec, rows: replace_in_prompts(window, spec, rows), window,
                                   lambda: [shot.first_frame_prompt for shot in window.model.shots])
        window.undo_stack.indexChanged.connect(dialog.story_changed)
        window.timeline.selectionModel().selectionChanged.connect(dialog.selection_changed)
        window.find_replace_dialog = dialog
    selected = window.inspector.prompt.textCursor().selectedText()
    if selected and "\u2029" not in selected:  # a word chosen in the prompt, as editors do (not a paragraph break)
        dialog.find.setText(selected)
    dialog.scope.setCurrentIndex(1 if len(window.edits.selected_rows()) > 1 else 0)
    dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    dialog.find.setFocus()
    dialog.find.selectAll()
    return dialog


def replace_in_prompts(window: MainWindow, spec: PromptReplace, rows: list[int]) -> str:
    """Replace in the prompts of ``rows`` as one undo step; what it did, in words (also on the status bar)."""
    model = window.model
    rows = [row for row in rows if row < len(model.shots)]
    shots = [model.shot_at(row) for row in rows]
    prompts = [shot.prompt for shot in shots]
    first_frames = [shot.first_frame_prompt for shot in shots]
    changed = replaced_prompts(prompts, spec)
    changed_first = replaced_prompts(first_frames, spec)
    if not changed and not changed_first:
        return "Nothing to replace."
    matches, _ = count_matches(prompts, spec)
    hidden, _ = count_matches(first_frames, spec)
    count = shots_in_words([rows[i] for i in sorted(set(changed) | set(changed_first))])
    stack = window.undo_stack
    # One model change for every prompt (1,000 prompts: 24 ms, 130 ms as a command per shot); inside a macro so
    # that it never merges with the typing or another Replace all before it.
    stack.beginMacro(f"Replace “{spec.find}” in {count}")
    for name, values in (("prompt", changed), ("first_frame_prompt", changed_first)):
        if values:
            stack.push(EditShotCommand.per_shot(model, name, {shots[i].id: text for i, text in values.items()}))
    stack.endMacro()
    stale = sum(1 for index in changed if prompt_changed(window.project.story, rows[index]))
    emptied = [rows[i] for i, prompt in changed.items() if not prompt.strip()]
    text = f"Replaced {matches} match{'es' * (matches != 1)} in {count}." + (
        f" Also {hidden} in their first-frame prompts (the story script's)." if hidden else "") + (
        f" {shots_in_words(emptied).capitalize()} {'has' if len(emptied) == 1 else 'have'} no prompt now." if emptied
        else "") + (
        f" {stale} of them had a take, now stale: Generate > Regenerate stale shots redoes them." if stale else "")
    window.statusBar().showMessage(text, 10000)
    return text
