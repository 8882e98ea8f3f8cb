"""The storyboard as a PDF for crews (QPdfWriter): a title page, then a grid of panels per page.

Each panel: the take's first keyframe (else the clip's first frame, else a blank card), shot and scene
numbers, the cut marker, the duration, shot size and camera move, the prompt and the notes. Text shrinks to
fit its panel and whatever still does not fit at the smallest size continues on a page after the grid, so no
word is ever cut. Pages are planned first and painted second, so every page can say "Page 3 of 12".
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from storyboard.card_delegate import CUT_COLOR, scene_color
from storyboard.file_names import UNTITLED_STORY
from storyboard.handoff import HandoffShot, plan_handoff
from storyboard.pdf_text import Block, Fitted, Line, draw_lines, fit, make_font, wrap
from storymem_engine.atomic import FILE_MODE
from storymem_engine.project import Project
from storymem_engine.shot_timing import FPS, clock
from storymem_engine.words import counted

LAYOUTS = {"landscape": (3, 2), "portrait": (2, 3)}  # columns, rows
PAGE_SIZES = {"A4": QPageSize.PageSizeId.A4, "Letter": QPageSize.PageSizeId.Letter}
DPI = 300
MARGIN_MM = 12.0
BODY_PT, SMALLEST_PT = 9.0, 6.0
TITLE_PT, OVERVIEW_PT, SMALLEST_OVERVIEW_PT = 26.0, 12.0, 9.0
CONTINUED_MM = 4.0  # the "continued on page N" line under a panel's text


@dataclass
class PdfOptions:
    layout: str = "landscape"  # "landscape": 3x2 panels per page; "portrait": 2x3
    page_size: str = "A4"  # or "Letter"


class PdfError(Exception):
    """The PDF cannot be written; the message says why."""


@dataclass
class Panel:
    item: HandoffShot
    rect: QRectF
    text: Fitted
    continued_on: int = 0  # the page its text goes on to (0: it all fits)


@dataclass
class Page:
    kind: str  # "title", "grid" or "continued"
    panels: list[Panel] = field(default_factory=list)
    heading: str = ""
    text: Fitted | None = None
    title_lines: list[Line] = field(default_factory=list)  # the title page's name and facts
    continues: Panel | None = None  # the panel whose text this page carries on


def mm(value: float) -> float:
    return value * DPI / 25.4


def export_pdf(project: Project, path: Path, options: PdfOptions, default_frames: int,
               progress: Callable[[int], None] | None = None, cancel: Callable[[], bool] | None = None) -> int:
    """Write the storyboard atomically (an existing file is replaced only by a complete one); returns the
    page count. Raises PdfError (bad option, nothing to draw, cancelled) or OSError. Needs a QGuiApplication."""
    if options.layout not in LAYOUTS:
        raise PdfError(f"layout must be one of {', '.join(LAYOUTS)}, got {options.layout!r}")
    if options.page_size not in PAGE_SIZES:
        raise PdfError(f"page size must be one of {', '.join(PAGE_SIZES)}, got {options.page_size!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise PdfError(f"cannot write {path}: the folder does not exist")
    plan = plan_handoff(project, default_frames)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        pages = _write(project, plan, Path(temp), options, progress, cancel)
        os.chmod(temp, FILE_MODE)  # mkstemp's 0600 would keep the crew from reading a shared copy
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return pages


def _writer(path: Path, options: PdfOptions) -> QPdfWriter:
    writer = QPdfWriter(str(path))
    orientation = QPageLayout.Orientation.Landscape if options.layout == "landscape" else \
        QPageLayout.Orientation.Portrait
    writer.setPageLayout(QPageLayout(QPageSize(PAGE_SIZES[options.page_size]), orientation, QMarginsF(0, 0, 0, 0)))
    writer.setResolution(DPI)
    writer.setCreator("StoryMem Studio")
    return writer


def _write(project: Project, plan: list[HandoffShot], path: Path, options: PdfOptions,
           progress: Callable[[int], None] | None, cancel: Callable[[], bool] | None) -> int:
    writer = _writer(path, options)
    writer.setTitle(f"{project.story.name} - storyboard")
    page = QRectF(0, 0, writer.width(), writer.height())
    body = page.adjusted(mm(MARGIN_MM), mm(MARGIN_MM + 8), -mm(MARGIN_MM), -mm(MARGIN_MM + 6))
    pages = _title_pages(project, plan, body, writer) + _grid_pages(plan, body, options, writer)
    for number, planned in enumerate(pages, start=1):
        if planned.continues is not None and not planned.continues.continued_on:
            planned.continues.continued_on = number
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"cannot write {path}")
    images = _ImageCache(project)
    try:
        done = 0
        for number, planned in enumerate(pages, start=1):
            if cancel is not None and cancel():
                raise PdfError("cancelled")
            if number > 1:
                writer.newPage()
            _paint_frame(painter, page, project.story.name, number, len(pages))
            if planned.kind == "grid":
                for panel in planned.panels:
                    _paint_panel(painter, panel, images)
                    done += 1
                    if progress is not None:
                        progress(done)
            else:
                _paint_text_page(painter, body, planned)
    finally:
        painter.end()
    return len(pages)


# ---------------------------------------------------------------- planning


def _title_pages(project: Project, plan: list[HandoffShot], body: QRectF, device) -> list[Page]:
    story = project.story
    frames = sum(item.frames for item in plan)
    scenes = len({item.shot.scene_num for item in plan})
    facts = (f"{counted(len(plan), 'shot')} in {counted(scenes, 'scene')}  ·  running time "
             f"{clock(frames / FPS)} ({frames} frames at {FPS} fps)  ·  {date.today().isoformat()}")
    if story.soundtrack is not None:  # the crew times the cut to it
        facts += f"  ·  music: {story.soundtrack.name} from {clock(story.soundtrack.start_s)}"
    title_lines = wrap(Block(story.name or UNTITLED_STORY, bold=True), TITLE_PT, body.width(), device)
    fact_lines = wrap(Block(facts, color="#44403c"), 11.0, body.width(), device)
    top = sum(line.gap + line.height for line in title_lines + fact_lines) + mm(10)
    box = body.adjusted(0, top, 0, 0)
    overview = [Block(story.overview.strip() or "(no overview)", color="#1c1917")]
    fitted = fit(overview, box, device, OVERVIEW_PT, SMALLEST_OVERVIEW_PT)
    first = Page("title", heading=story.name, text=fitted, title_lines=title_lines + fact_lines)
    return [first, *_continued(fitted.rest, "Overview (continued)", body, device, SMALLEST_OVERVIEW_PT)]


def _grid_pages(plan: list[HandoffShot], body: QRectF, options: PdfOptions, device) -> list[Page]:
    columns, rows = LAYOUTS[options.layout]
    gutter = mm(5)
    width = (body.width() - gutter * (columns - 1)) / columns
    height = (body.height() - gutter * (rows - 1)) / rows
    per_page = columns * rows
    pages: list[Page] = []
    for first in range(0, len(plan), per_page):
        page = Page("grid")
        overflow: list[Panel] = []
        for slot, item in enumerate(plan[first:first + per_page]):
            row, column = divmod(slot, columns)
            rect = QRectF(body.left() + column * (width + gutter), body.top() + row * (height + gutter),
                          width, height)
            box = _text_box(rect, item.shot.cut)
            fitted = fit(_panel_blocks(item), box, device, BODY_PT, SMALLEST_PT)
            if fitted.rest:  # leave a line for "continued on page N"
                fitted = fit(_panel_blocks(item), box.adjusted(0, 0, 0, -mm(CONTINUED_MM)), device, BODY_PT,
                             SMALLEST_PT)
            panel = Panel(item, rect, fitted)
            page.panels.append(panel)
            if fitted.rest:
                overflow.append(panel)
        pages.append(page)
        for panel in overflow:
            more = _continued(panel.text.rest, f"Shot {panel.item.number} (continued)", body, device, BODY_PT)
            for continued in more:
                continued.continues = panel
            pages.extend(more)
    return pages


def _continued(blocks: list[Block], heading: str, body: QRectF, device, point_size: float) -> list[Page]:
    """Pages for text that did not fit where it belongs, as many as it takes."""
    pages = []
    while blocks:
        box = body.adjusted(0, mm(10), 0, 0)
        fitted = fit(blocks, box, device, point_size, point_size, at_least_one=True)
        pages.append(Page("continued", heading=heading, text=fitted))
        blocks = fitted.rest
    return pages


def _panel_blocks(item: HandoffShot) -> list[Block]:
    shot = item.shot
    blocks = []
    framing = "  ·  ".join(v for v in (shot.shot_size, shot.camera_move) if v)
    if framing:
        blocks.append(Block(framing.upper(), bold=True, scale=0.85, color="#57534e", space_before=0))
    blocks.append(Block(shot.prompt.strip() or "(empty prompt)", space_before=0 if not framing else 0.3))
    if shot.notes.strip():
        blocks.append(Block(f"Notes: {shot.notes.strip()}", italic=True, color="#44403c", space_before=0.5))
    return blocks


def _header_box(rect: QRectF) -> QRectF:
    return QRectF(rect.left(), rect.top(), rect.width(), mm(7))


def _image_box(rect: QRectF) -> QRectF:
    top = rect.top() + mm(7)
    return QRectF(rect.left(), top, rect.width(), min(rect.width() * 9 / 16, rect.height() * 0.55))


def _text_box(rect: QRectF, cut: bool) -> QRectF:
    image = _image_box(rect)
    left = mm(3.5) if cut else mm(1.5)  # clear of the red cut bar
    return QRectF(rect.left() + left, image.bottom() + mm(1.5), rect.width() - left - mm(1.5),
                  rect.bottom() - image.bottom() - mm(2.5))


# ---------------------------------------------------------------- painting


class _ImageCache:
    """The picture of each take, loaded once (1,000 shots sharing a clip decode it once)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.images: dict[Path, QImage | None] = {}
        self.at: dict[tuple[Path, int], QImage | None] = {}  # (clip, in point) of trimmed takes

    def picture(self, item: HandoffShot) -> QImage | None:
        from storyboard.frames import first_frame

        take = item.take
        if take is None:
            return None
        if take.trimmed and item.clip is not None:
            return self._frame_at(item.clip, take.cut_range()[0])  # the first keyframe may be trimmed off the cut
        for relative in take.keyframes[:1]:
            try:
                path = self.project.resolve(relative)
            except ValueError:
                continue
            if path not in self.images:
                image = QImage(str(path))
                self.images[path] = None if image.isNull() else image
            if self.images[path] is not None:
                return self.images[path]
        if item.clip is None:
            return None
        if item.clip not in self.images:
            self.images[item.clip] = first_frame(item.clip, whole=False)[0]
        return self.images[item.clip]

    def _frame_at(self, clip: Path, index: int) -> QImage | None:
        """A trimmed take's first frame on the cut (its in point); None when the clip does not decode that far."""
        from storyboard.frames import array_to_qimage, frame_at

        key = (clip, index)
        if key not in self.at:
            try:
                picture = frame_at(clip, index)
            except Exception:  # noqa: BLE001 - a clip that breaks off draws a blank panel, as a missing one does
                picture = None
            self.at[key] = array_to_qimage(picture) if picture is not None else None
        return self.at[key]


def _paint_frame(painter: QPainter, page: QRectF, name: str, number: int, total: int) -> None:
    painter.setFont(make_font(8))
    painter.setPen(QColor("#78716c"))
    top = QRectF(mm(MARGIN_MM), mm(MARGIN_MM - 2), page.width() - 2 * mm(MARGIN_MM), mm(6))
    painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{name}  ·  storyboard")
    bottom = QRectF(mm(MARGIN_MM), page.height() - mm(MARGIN_MM), page.width() - 2 * mm(MARGIN_MM), mm(6))
    painter.drawText(bottom, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"Page {number} of {total}")


def _paint_text_page(painter: QPainter, body: QRectF, page: Page) -> None:
    assert page.text is not None
    y = body.top()
    if page.kind == "title":
        y += draw_lines(painter, page.title_lines, QRectF(body.left(), y, body.width(), body.height()))
        painter.setPen(QPen(QColor("#d6d3d1"), mm(0.3)))
        painter.drawLine(int(body.left()), int(y + mm(4)), int(body.right()), int(y + mm(4)))
        draw_lines(painter, page.text.lines, QRectF(body.left(), y + mm(10), body.width(), body.height()))
        return
    painter.setFont(make_font(12, bold=True))
    painter.setPen(QColor("#1c1917"))
    painter.drawText(QRectF(body.left(), y, body.width(), mm(8)), Qt.AlignmentFlag.AlignLeft, page.heading)
    draw_lines(painter, page.text.lines, body.adjusted(0, mm(10), 0, 0))


def _paint_panel(painter: QPainter, panel: Panel, images: _ImageCache) -> None:
    item, rect = panel.item, panel.rect
    shot = item.shot
    painter.setPen(QPen(QColor("#a8a29e"), mm(0.25)))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(rect)
    header = _header_box(rect)
    painter.fillRect(header, scene_color(shot.scene_num))
    if shot.cut:
        painter.fillRect(QRectF(rect.left(), rect.top(), mm(2), rect.height()), CUT_COLOR)
    painter.setPen(QColor("white"))
    painter.setFont(make_font(9, bold=True))
    inner = header.adjusted(mm(3), 0, -mm(2), 0)
    painter.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                     f"Shot {item.number}  ·  Scene {shot.scene_num}")
    painter.setFont(make_font(8, bold=shot.cut))
    painter.drawText(inner, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                     f"{'DRAFT  ·  ' if item.profile == 'draft' else ''}{'CUT  ·  ' if shot.cut else ''}"
                     f"{item.seconds:.2f} s")
    box = _image_box(rect).adjusted(mm(2.5) if shot.cut else mm(0.5), mm(0.5), -mm(0.5), 0)
    picture = images.picture(item)
    if picture is None:
        painter.fillRect(box, QColor("#e7e5e4"))
        painter.setPen(QColor("#78716c"))
        painter.setFont(make_font(8))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "no take yet" if item.take is None else "clip missing")
    else:
        painter.fillRect(box, QColor("#0c0a09"))
        size = QSizeF(picture.width(), picture.height()).scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(box.center().x() - size.width() / 2, box.center().y() - size.height() / 2,
                        size.width(), size.height())
        painter.drawImage(target, picture)
    box = _text_box(rect, shot.cut)
    draw_lines(painter, panel.text.lines, box)
    if panel.continued_on:
        painter.setFont(make_font(7, bold=True))
        painter.setPen(QColor("#b91c1c"))
        painter.drawText(QRectF(box.left(), box.bottom() - mm(CONTINUED_MM), box.width(), mm(CONTINUED_MM)),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                         f"continued on page {panel.continued_on} →")


def page_count(shots: int, options: PdfOptions) -> int:
    """Pages when every panel's text fits it (the title page and the grid pages)."""
    columns, rows = LAYOUTS[options.layout]
    return 1 + math.ceil(shots / (columns * rows))
