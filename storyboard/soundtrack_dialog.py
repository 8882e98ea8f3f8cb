"""File > Soundtrack: the music under the film, where in it the film starts, and how loud; Remove takes it away.
The dialog only gathers the choice: SoundtrackController checks the file, copies it and makes it one undo step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from storyboard.note_label import NoteLabel
from storymem_engine.shot_timing import clock
from storymem_engine.story import MAX_DURATION_S, MAX_GAIN_DB, MIN_GAIN_DB, Soundtrack

REMOVE = 2  # the dialog's result when Remove soundtrack was pressed (Accepted is 1, Rejected 0)


class SoundtrackDialog(QDialog):
    def __init__(self, current: Soundtrack | None, current_length: float | None, film_length: float,
                 choose: Callable[[], tuple[Path, float] | None], parent: QWidget | None = None) -> None:
        """``choose`` asks for a music file and checks it: (its path, its length in seconds), or None."""
        super().__init__(parent)
        self.setWindowTitle("Soundtrack")
        self._choose = choose
        self.source: Path | None = None  # a new file chosen here (copied into the project on OK)
        self.length = current_length
        self.film_length = film_length
        self.file_label = QLabel()
        self.file_label.setObjectName("soundtrack_file")
        pick = QPushButton("Choose file…")
        pick.clicked.connect(self.choose_file)
        row = QHBoxLayout()
        row.addWidget(self.file_label, 1)
        row.addWidget(pick)
        self.start = QDoubleSpinBox()
        self.start.setRange(0.0, MAX_DURATION_S)
        self.start.setDecimals(2)
        self.start.setSuffix(" s")
        self.start.setToolTip("Where in the music the film's first frame falls (skip an intro)")
        self.gain = QDoubleSpinBox()
        self.gain.setRange(MIN_GAIN_DB, MAX_GAIN_DB)
        self.gain.setDecimals(1)
        self.gain.setSingleStep(1.0)
        self.gain.setSuffix(" dB")
        self.gain.setToolTip("0 dB: as the file is; -6 dB: half as loud")
        self.fit = QLabel()
        self.fit.setObjectName("soundtrack_fit")
        self.start.valueChanged.connect(self._say_fit)
        if current is not None:
            self.start.setValue(current.start_s)
            self.gain.setValue(current.gain_db)
        self._show_file(current.name if current is not None else "")
        form = QFormLayout()
        form.addRow("Music", row)
        form.addRow("Start the film at", self.start)
        form.addRow("Volume", self.gain)
        form.addRow("", self.fit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.remove_button = buttons.addButton("Remove soundtrack", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.remove_button.clicked.connect(lambda: self.done(REMOVE))
        self.remove_button.setEnabled(current is not None)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(current is not None)
        layout = QVBoxLayout(self)
        layout.addWidget(NoteLabel("The music is copied into the project and mixed into the exported films (File > "
                                   "Export film, the selected shots, the review copy, and main.py export/render), "
                                   "faded out where the film ends. The preview in this window plays pictures "
                                   "only: it is silent."))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._say_fit()

    def choose_file(self) -> bool:
        chosen = self._choose()
        if chosen is None:
            return False
        self.source, self.length = chosen
        self._show_file(self.source.name)
        self.ok_button.setEnabled(True)
        self._say_fit()
        return True

    def _show_file(self, name: str) -> None:
        length = f" ({clock(self.length)})" if name and self.length is not None else ""
        self.file_label.setText(f"{name}{length}" if name else "No soundtrack")

    def _say_fit(self) -> None:
        """How the music covers the film: 'covers the film (3:10 of music, the film 0:30)' or where it ends."""
        if self.length is None:
            self.fit.setText("")
            return
        left = self.length - self.start.value()
        if left <= 0:
            self.fit.setText(f"The music is {clock(self.length)} long: the film would start after its end.")
        elif left < self.film_length:
            self.fit.setText(f"The music ends {clock(left)} into the film ({clock(self.film_length)}); silence "
                             "after it.")
        else:
            self.fit.setText(f"The music covers the whole film ({clock(self.film_length)}) and fades out at its "
                             "end.")

    def accept(self) -> None:
        if self.length is not None and self.start.value() >= self.length:
            self.start.setFocus()  # the note under the fields says why: the film would start after the music
            return
        super().accept()

    def values(self) -> tuple[Path | None, float, float]:
        """(the new file chosen, or None to keep the current one; start in seconds; volume in dB)."""
        return self.source, self.start.value(), self.gain.value()
