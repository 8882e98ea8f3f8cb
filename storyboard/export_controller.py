"""File > Export film / shot list / timeline / storyboard: a cancellable progress dialog around each writer,
clear errors. Timelines and the PDF storyboard live in handoff_controller."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProgressDialog

from storyboard import dialogs
from storyboard.memory import bank_frozen
from storyboard.shot_list_csv import write_shot_list
from storyboard.shot_numbers import cards_note, shots_in_words
from storyboard.timeline_model import ShotRole

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow
    from storyboard.pdf_storyboard import PdfOptions
    from storyboard.timeline_export import TimelineOptions


def _video_exceptions() -> tuple[type[BaseException], type[BaseException]]:
    try:
        from storymem_engine.video import VideoCancelled, VideoError
    except ImportError:
        return _Never, _Never
    return VideoCancelled, VideoError


class _Never(Exception):
    pass


class ExportController:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.progress: QProgressDialog | None = None

    def export_selected_film(self, path: Path | None = None) -> bool:
        """File > Export the selected shots: their film alone (a scene for review, one trimmed take)."""
        rows = self.window.edits.selected_rows()
        if not rows:
            self.window.statusBar().showMessage("Select the shots to export first (Ctrl+Alt+A selects a scene).", 6000)
            return False
        return self.export_film(path, rows)

    def export_review_copy(self, path: Path | None = None) -> bool:
        """File > Export review copy: the film with shot, take and timecode burned into every frame."""
        return self.export_film(path, burn_in=True)

    def export_film(self, path: Path | None = None, rows: list[int] | None = None, burn_in: bool = False) -> bool:
        # numpy and PyAV load on first export, not at launch (the window opens ~100 ms sooner).
        from storyboard.film_export import FilmError, plan_export, write_film

        window = self.window
        which = "" if rows is None else shots_in_words(rows)
        if path is None:
            title = "Export review copy" if burn_in else "Export film" if rows is None else f"Export {which}"
            suffix = which or ("review" if burn_in else "")  # "Kite shots 3–4.mp4", "Kite review.mp4"
            path = window.ask_export_path(title, "MP4 video (*.mp4)", ".mp4",
                                          f"{window.display_name()} {suffix}" if suffix else "")
            if path is None:
                return False
        settings = window.generation_settings()  # untaken shots become cards as long as their clip would be
        cancelled_error, video_error = _video_exceptions()
        try:
            plan = plan_export(window.project, settings.frames, settings.size, rows)
        except FilmError as exc:
            dialogs.error(window, "Cannot export film", str(exc))
            return False
        self.progress = dialog = QProgressDialog(f"Exporting {Path(path).name}…", "Cancel", 0, plan.frames, window)
        dialog.setWindowTitle("Export film")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoReset(False)
        dialog.setAutoClose(False)
        dialog.show()

        def progress(done: int) -> None:
            dialog.setValue(min(done, plan.frames))
            QApplication.processEvents()

        try:
            count = write_film(plan, Path(path), progress=progress, cancel=dialog.wasCanceled, burn_in=burn_in)
        except cancelled_error:
            window.statusBar().showMessage("Film export cancelled; nothing was written", 8000)
            return False
        except (FilmError, video_error) as exc:
            dialogs.error(window, "Cannot export film", str(exc))
            return False
        except OSError as exc:
            dialogs.error(window, "Cannot export film",
                          f"Could not write {path}:\n{exc.strerror or exc}\n\nAny existing file is unchanged.")
            return False
        finally:
            dialog.close()
            dialog.deleteLater()
            self.progress = None
        what = f"{which} ({count} frames)" if which else f"{count} frames"
        music = window.project.story.soundtrack
        after = "this shot" if rows is not None and len(rows) == 1 else "these shots"
        heard = ("" if music is None else f", with the soundtrack {music.name}" if plan.audio is not None
                 else f", silent: the soundtrack {music.name} ends before {after}")
        # Said, not silent: a shot still generating, or never made, is in the file as its animatic card.
        carded = cards_note(plan.card_rows)
        # Stale takes are in the film as they are: said, as the cards are, so a film to review is not taken as final.
        with bank_frozen(window.project.story):
            stale = [r for r in (rows if rows is not None else range(window.model.rowCount()))
                     if window.model.index(r).data(ShotRole.STATUS) == "stale"]
        if stale:
            one = len(stale) == 1
            carded += (f"; {shots_in_words(stale)} {'is' if one else 'are'} stale (made from earlier memory or "
                       "settings: Generate > Regenerate stale shots)")
        window.statusBar().showMessage(f"Exported {what} to {path}{heard}{carded}", 10_000)
        return True

    def export_shot_list(self, path: Path | None = None) -> bool:
        window = self.window
        if path is None:
            path = window.ask_export_path("Export shot list", "CSV (*.csv)", ".csv")
            if path is None:
                return False
        model = window.model
        with bank_frozen(window.project.story):  # the bank checked once, not once per shot (quadratic)
            statuses = [model.index(r).data(ShotRole.STATUS) for r in range(model.rowCount())]
        try:
            write_shot_list(window.project.story, statuses, Path(path), self.cut_defaults()[0])
        except OSError as exc:
            dialogs.error(window, "Cannot export shot list", f"Could not write {path}:\n{exc.strerror or exc}")
            return False
        window.statusBar().showMessage(f"Exported shot list to {path}", 5000)
        return True

    def cut_defaults(self) -> tuple[int, tuple[int, int]]:
        """(frames, size) of a shot without its own: the film export's source, so every export times it alike."""
        settings = self.window.generation_settings()
        return settings.frames, settings.size

    def export_timeline(self, fmt: str, path: Path | None = None, options: TimelineOptions | None = None) -> bool:
        from storyboard.handoff_controller import export_timeline_dialog

        frames, size = self.cut_defaults()
        return export_timeline_dialog(self.window, fmt, frames, size, path, options)

    def export_pdf(self, path: Path | None = None, options: PdfOptions | None = None) -> bool:
        from storyboard.handoff_controller import export_pdf_dialog

        return export_pdf_dialog(self.window, self.cut_defaults()[0], path, options)
