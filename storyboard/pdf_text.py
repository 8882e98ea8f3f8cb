"""Wrapped text for the PDF storyboard that is never clipped: shrink the font to fit a box, and what still
does not fit at the smallest size is handed back to be continued elsewhere.

Lines are broken with QTextLayout on the PDF's own paint device (its metrics, its resolution), then drawn one
by one, so a box can stop at any line and the next page can pick up at exactly that line.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPaintDevice, QPainter, QTextLayout, QTextOption


@dataclass
class Block:
    """A paragraph of one style: ``scale`` multiplies the box's font size (a caption is smaller)."""

    text: str
    bold: bool = False
    italic: bool = False
    scale: float = 1.0
    color: str = "#1c1917"
    space_before: float = 0.4  # in lines of this block's font


@dataclass
class Line:
    text: str  # as drawn
    raw: str  # the slice of the block's text, spaces and breaks included: joined, they give the block back
    block: Block
    point_size: float  # the block's size after its scale
    height: float
    ascent: float
    gap: float  # space above the line (first line of a block)


@dataclass
class Fitted:
    point_size: float
    lines: list[Line]  # the lines that fit the box, in order
    rest: list[Block] = field(default_factory=list)  # what did not fit even at the smallest size


def make_font(point_size: float, bold: bool = False, italic: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPointSizeF(point_size)
    font.setBold(bold)
    font.setItalic(italic)
    # No ligatures: text copied (or searched) from the PDF must read "fi", not U+FB01.
    for tag in ("liga", "clig"):
        font.setFeature(QFont.Tag(tag), 0)
    return font


def printable(text: str) -> str:
    """The text without control characters (a NUL in a prompt would draw as a box); line breaks stay, Unicode's
    line and paragraph separators (U+2028, U+2029: breaks in a prompt pasted from a web page) as plain ones."""
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def wrap(block: Block, point_size: float, width: float, device: QPaintDevice) -> list[Line]:
    """The block broken into lines ``width`` device units wide (a word longer than a line breaks anywhere)."""
    size = point_size * block.scale
    font = make_font(size, block.bold, block.italic)
    metrics = QFontMetricsF(font, device)
    # QTextLayout breaks lines only at U+2028; a prompt's own line breaks must stay breaks.
    text = printable(block.text.replace("\r\n", "\n")).replace("\n", "\u2028")
    # QTextLayout counts UTF-16 code units: slice the same units, or a character past U+FFFF shifts every line.
    units = text.encode("utf-16-le")
    layout = QTextLayout(text, font, device)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    lines: list[Line] = []
    layout.beginLayout()
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        start, length = line.textStart(), line.textLength()
        raw = units[2 * start:2 * (start + length)].decode("utf-16-le", errors="replace")
        gap = block.space_before * metrics.lineSpacing() if not lines else 0.0
        lines.append(Line(raw.replace("\u2028", "").rstrip(), raw, block, size, metrics.lineSpacing(),
                          metrics.ascent(), gap))
    layout.endLayout()
    return lines or [Line("", "", block, size, metrics.lineSpacing(), metrics.ascent(), 0.0)]


def fit(blocks: list[Block], box: QRectF, device: QPaintDevice, largest: float, smallest: float,
        step: float = 0.5, at_least_one: bool = False) -> Fitted:
    """The largest size from ``largest`` down to ``smallest`` at which every block fits the box; failing that,
    the lines that fit at ``smallest`` and the rest of the text as blocks to continue. ``at_least_one`` keeps
    a first line even when the box is lower than it (a whole page for continued text: always progress)."""
    size = largest
    while True:
        lines = [line for block in blocks for line in wrap(block, size, box.width(), device)]
        if _height(lines) <= box.height():
            return Fitted(size, lines)
        if size - step < smallest - 1e-6:
            break
        size -= step
    kept: list[Line] = []
    used = 0.0
    for line in lines:
        if used + line.gap + line.height > box.height():
            break
        kept.append(line)
        used += line.gap + line.height
    if not kept and at_least_one and lines:
        kept.append(lines[0])
    return Fitted(size, kept, _remainder(blocks, lines, len(kept)))


def _height(lines: list[Line]) -> float:
    return sum(line.gap + line.height for line in lines)


def _remainder(blocks: list[Block], lines: list[Line], kept: int) -> list[Block]:
    """The text from line ``kept`` on, as blocks of the same styles (the split block's remaining lines re-joined
    exactly as they were in its text, so it wraps anew at the continuation's width)."""
    rest: list[Block] = []
    previous: Block | None = None
    for line in lines[kept:]:
        if line.block is not previous:
            source = line.block
            rest.append(Block("", source.bold, source.italic, source.scale, source.color, source.space_before))
            previous = source
        rest[-1].text += line.raw.replace("\u2028", "\n")
    return rest


def draw_lines(painter: QPainter, lines: list[Line], box: QRectF) -> float:
    """Draw wrapped lines from the box's top; returns the height used."""
    y = box.top()
    for line in lines:
        y += line.gap
        font = make_font(line.point_size, line.block.bold, line.block.italic)
        painter.setFont(font)
        painter.setPen(QColor(line.block.color))
        painter.drawText(QPointF(box.left(), y + line.ascent), line.text)
        y += line.height
    return y - box.top()
