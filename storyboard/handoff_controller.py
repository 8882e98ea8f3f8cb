"""File > Export timeline (OTIO, FCP 7/X XML, EDL) and storyboard (PDF): ask where and how, write with a
cancellable progress dialog, report errors in words. The writing itself is the same code the CLI runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProgressDialog

from storyboard import dialogs, export_options
from storyboard.handoff import HandoffError
from storyboard.pdf_storyboard import PdfError, PdfOptions, export_pdf
from storyboard.timeline_export import FORMATS, TimelineOptions, export_timeline
from storymem_engine.words import counted

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

T = TypeVar("T")


def _video_errors() -> tuple[type[BaseException], ...]:
    try:
        from storymem_engine.video import VideoCancelled, VideoError
    except ImportError:
        return ()
    return VideoCancelled, VideoError


def _run(window: MainWindow, title: str, total: int, work: Callable[[Callable[[int], None], Callable[[], bool]], T],
         path: Path) -> T | None:
    """Run ``work(progress, cancel)`` under a modal progress dialog; None (after saying why) when it failed."""
    dialog = QProgressDialog(f"Exporting {path.name}…", "Cancel", 0, max(total, 1), window)
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(500)
    dialog.setAutoReset(False)
    dialog.setAutoClose(False)

    def progress(done: int) -> None:
        dialog.setValue(min(done, total))
        QApplication.processEvents()

    try:
        return work(progress, dialog.wasCanceled)
    except (HandoffError, PdfError, *_video_errors()) as exc:
        if dialog.wasCanceled():
            window.statusBar().showMessage(f"{title} cancelled; nothing was written", 8000)
        else:
            dialogs.error(window, f"Cannot {title.lower()}", str(exc))
        return None
    except OSError as exc:
        dialogs.error(window, f"Cannot {title.lower()}",
                      f"Could not write {path}:\n{exc.strerror or exc}\n\nAny existing file is unchanged.")
        return None
    finally:
        dialog.close()
        dialog.deleteLater()


def export_timeline_dialog(window: MainWindow, fmt: str, frames: int, size: tuple[int, int],
                           path: Path | None = None, options: TimelineOptions | None = None) -> bool:
    spec = FORMATS[fmt]
    title = f"Export timeline ({spec.label})"
    if path is None:
        path = window.ask_export_path(title, f"{spec.label} (*{spec.suffix})", spec.suffix)
        if path is None:
            return False
    if options is None:
        options = export_options.ask_timeline_options(window, fmt)
        if options is None:
            return False
    options = TimelineOptions(fmt, options.empty_shots, options.collect_media)
    path = Path(path)
    result = _run(window, title, len(window.project.story.shots),
                  lambda progress, cancel: export_timeline(window.project, path, options, frames, size, progress,
                                                           cancel), path)
    if result is None:
        return False
    parts = [counted(result.clips, "clip")] + [counted(result.gaps, "gap")] * bool(result.gaps) + \
        [counted(result.cards, "card")] * bool(result.cards)
    music = result.remarks
    window.statusBar().showMessage(f"Exported timeline ({', '.join(parts)}) to {path}{music}", 12000 if music else 8000)
    return True


def export_pdf_dialog(window: MainWindow, frames: int, path: Path | None = None,
                      options: PdfOptions | None = None) -> bool:
    title = "Export storyboard"
    if path is None:
        path = window.ask_export_path("Export storyboard (PDF)", "PDF (*.pdf)", ".pdf")
        if path is None:
            return False
    if options is None:
        options = export_options.ask_pdf_options(window)
        if options is None:
            return False
    path = Path(path)
    pages = _run(window, title, len(window.project.story.shots),
                 lambda progress, cancel: export_pdf(window.project, path, options, frames, progress, cancel), path)
    if pages is None:
        return False
    window.statusBar().showMessage(f"Exported storyboard ({pages} pages) to {path}", 8000)
    return True
