"""The small choices the hand-off exports ask for: empty shots and media for timelines, layout and paper for
the PDF storyboard. The last answers are remembered (QSettings) and offered next time."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from storyboard.pdf_storyboard import PdfOptions
from storyboard.settings_values import text_value
from storyboard.timeline_export import FORMATS, TimelineOptions

EMPTY_SHOT_LABELS = {"gap": "a gap of the shot's length", "card": "its animatic card (rendered as a clip)"}
LAYOUT_LABELS = {"landscape": "Landscape, 3 x 2 panels", "portrait": "Portrait, 2 x 3 panels"}


def _combo(labels: dict[str, str], current: str) -> QComboBox:
    combo = QComboBox()
    for value, label in labels.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(max(combo.findData(current), 0))
    return combo


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class TimelineOptionsDialog(QDialog):
    def __init__(self, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fmt = fmt
        self.setWindowTitle(f"Export timeline ({FORMATS[fmt].label})")
        store = QSettings()
        self.empty_shots = _combo(EMPTY_SHOT_LABELS, text_value(store, "export/empty_shots", "gap"))
        self.collect = QCheckBox("Copy the clips next to the exported file (<name>_media folder)")
        self.collect.setChecked(text_value(store, "export/collect_media").lower() == "true")
        where = ("relative to the exported file" if FORMATS[fmt].relative_paths else "by absolute path")
        form = QFormLayout(self)
        form.addRow("Shots without a take", self.empty_shots)
        form.addRow("", self.collect)
        form.addRow("", QLabel(f"Clips are referenced {where}."))
        form.addRow(_buttons(self))

    def options(self) -> TimelineOptions:
        return TimelineOptions(self.fmt, self.empty_shots.currentData(), self.collect.isChecked())

    def remember(self) -> None:
        store = QSettings()
        store.setValue("export/empty_shots", self.empty_shots.currentData())
        store.setValue("export/collect_media", "true" if self.collect.isChecked() else "false")


class PdfOptionsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export storyboard (PDF)")
        store = QSettings()
        self.layout_choice = _combo(LAYOUT_LABELS, text_value(store, "export/pdf_layout", "landscape"))
        self.page_size = _combo({"A4": "A4", "Letter": "US Letter"}, text_value(store, "export/pdf_page", "A4"))
        form = QFormLayout(self)
        form.addRow("Layout", self.layout_choice)
        form.addRow("Paper", self.page_size)
        form.addRow(_buttons(self))

    def options(self) -> PdfOptions:
        return PdfOptions(self.layout_choice.currentData(), self.page_size.currentData())

    def remember(self) -> None:
        store = QSettings()
        store.setValue("export/pdf_layout", self.layout_choice.currentData())
        store.setValue("export/pdf_page", self.page_size.currentData())


def ask_timeline_options(parent: QWidget | None, fmt: str) -> TimelineOptions | None:
    dialog = TimelineOptionsDialog(fmt, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    dialog.remember()
    return dialog.options()


def ask_pdf_options(parent: QWidget | None) -> PdfOptions | None:
    dialog = PdfOptionsDialog(parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    dialog.remember()
    return dialog.options()
