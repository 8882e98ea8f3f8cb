"""Every message box and file chooser the editor shows, behind one small module.

Call these as ``dialogs.error(...)`` (module attribute) so tests can monkeypatch them and never
block on a modal dialog. With ``set_interactive(False)`` (screenshot mode) messages go to stderr
and questions take their safe default.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

_interactive = True


def set_interactive(enabled: bool) -> None:
    global _interactive
    _interactive = enabled


def error(parent: QWidget | None, title: str, text: str) -> None:
    if not _interactive:
        print(f"error: {title}: {text}", file=sys.stderr)
        return
    QMessageBox.critical(parent, title, text)


def warning(parent: QWidget | None, title: str, text: str) -> None:
    if not _interactive:
        print(f"warning: {title}: {text}", file=sys.stderr)
        return
    QMessageBox.warning(parent, title, text)


def info(parent: QWidget | None, title: str, text: str) -> None:
    if not _interactive:
        print(f"{title}: {text}", file=sys.stderr)
        return
    QMessageBox.information(parent, title, text)


def ask_yes_no(parent: QWidget | None, title: str, text: str, default: bool = False) -> bool:
    if not _interactive:
        return default
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    fallback = QMessageBox.StandardButton.Yes if default else QMessageBox.StandardButton.No
    return QMessageBox.question(parent, title, text, buttons, fallback) == QMessageBox.StandardButton.Yes


def ask_save_discard_cancel(parent: QWidget | None, text: str) -> str:
    """"save", "discard" or "cancel"."""
    if not _interactive:
        return "discard"
    buttons = (
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
    )
    answer = QMessageBox.warning(parent, "Unsaved changes", text, buttons, QMessageBox.StandardButton.Save)
    return {
        QMessageBox.StandardButton.Save: "save",
        QMessageBox.StandardButton.Discard: "discard",
    }.get(answer, "cancel")


def choose(parent: QWidget | None, title: str, text: str, options: list[tuple[str, str]],
           cancel_label: str = "") -> str | None:
    """One button per (key, label) plus Cancel (named ``cancel_label`` where "Cancel" would be ambiguous, as
    beside "Cancel the generation"); the chosen key, None for Cancel. The first option is the default."""
    if not _interactive:
        return None
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    if cancel_label:
        box.button(QMessageBox.StandardButton.Cancel).setText(cancel_label)
    buttons = {box.addButton(label, QMessageBox.ButtonRole.AcceptRole): key for key, label in options}
    box.setDefaultButton(next(iter(buttons)))
    box.exec()
    return buttons.get(box.clickedButton())


def open_file(parent: QWidget | None, title: str, name_filter: str, start: str = "") -> str | None:
    if not _interactive:
        return None
    path, _ = QFileDialog.getOpenFileName(parent, title, start, name_filter)
    return path or None


def open_files(parent: QWidget | None, title: str, name_filter: str, start: str = "") -> list[str]:
    if not _interactive:
        return []
    paths, _ = QFileDialog.getOpenFileNames(parent, title, start, name_filter)
    return list(paths)


def save_file(parent: QWidget | None, title: str, name_filter: str, start: str = "") -> str | None:
    """A path to write; the caller asks before overwriting (the chooser does not)."""
    if not _interactive:
        return None
    path, _ = QFileDialog.getSaveFileName(
        parent, title, start, name_filter, options=QFileDialog.Option.DontConfirmOverwrite
    )
    return path or None


def choose_folder(parent: QWidget | None, title: str, start: str = "") -> str | None:
    if not _interactive:
        return None
    path = QFileDialog.getExistingDirectory(parent, title, start)
    return path or None
