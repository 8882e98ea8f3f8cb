"""Labels drawn over a film's frames: "DRAFT · distilled" on every frame of a draft take, and the review copy's
shot, take and timecode. Drawn with Pillow (no Qt), so the command line's render and the app's export label a film
the same way.

The font is the one Pillow carries inside itself (``ImageFont.load_default``, scalable from Pillow 10.1 with
FreeType), never one looked up on the system: the same label on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

Stamp = tuple[np.ndarray, np.ndarray]  # RGB [h, w, 3] float32 0..255 and its alpha [h, w, 1] float32 0..1

DRAFT_LABEL = "DRAFT · distilled"
DRAFT_COLOR = "#fbbf24"  # amber
BOX_ALPHA = 150 / 255  # the dark box behind the text: the picture shows through it


@lru_cache(maxsize=16)
def _font(size: int):
    from PIL import ImageFont

    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: only the fixed-size bitmap font
        font = ImageFont.load_default()
    return font


def _text_mask(text: str, font, w: int, h: int, x: float, bold: int) -> np.ndarray:
    """The text's coverage (0..1) on a ``w`` x ``h`` box, its left edge at ``x``, centred top to bottom."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(image)
    if isinstance(font, ImageFont.FreeTypeFont):
        draw.text((x, h / 2), text, fill=255, font=font, anchor="lm")
    else:  # the bitmap font has no anchors: centre its ink
        top, bottom = draw.textbbox((0, 0), text, font=font)[1::2]
        draw.text((x, (h - (bottom - top)) / 2 - top), text, fill=255, font=font)
    mask = np.asarray(image, dtype=np.float32) / 255.0
    for _ in range(bold):  # a heavier stroke: the text over itself one pixel to the right
        mask[:, 1:] = np.maximum(mask[:, 1:], mask[:, :-1])
    # Fuller edges: a small label's thin strokes would otherwise fade into the box.
    return mask**0.7


def text_stamp(text: str, width: int, height: int, color: str, box_width: int) -> Stamp:
    """A label on a dark box at least ``box_width`` wide at 480p (scaled with the frame), wider when the text needs
    it: RGB [h, w, 3] and its alpha [h, w, 1] in 0..1. Text wider than the frame starts at the left (its start
    reads; the end is cut) rather than being centred off both edges."""
    from PIL import ImageColor

    unit = max(height / 480.0, 0.2)
    size = max(int(18 * unit), 7)
    font = _font(size)
    pad = int(16 * unit)
    length = font.getlength(text)
    w = min(width, max(int(box_width * unit), int(np.ceil(length)) + pad, 30))
    h = min(height, max(int(30 * unit), 10))
    bold = 1 if size >= 9 else 0  # at the smallest sizes a doubled stroke fills the letters in
    x = (w - length - bold) / 2 if length + bold <= w else max(pad / 2, 1)
    mask = _text_mask(text, font, w, h, x, bold)[..., None]
    # The text over the box, as painting it would: coverage m of the colour over the box's alpha.
    alpha = mask + BOX_ALPHA * (1 - mask)
    rgb = np.asarray(ImageColor.getrgb(color)[:3], np.float32) * (mask / alpha)
    return rgb.astype(np.float32), alpha.astype(np.float32)


def draft_stamp(width: int, height: int) -> Stamp:
    """The "DRAFT · distilled" label for the top-left corner of a ``width`` x ``height`` frame."""
    return text_stamp(DRAFT_LABEL, width, height, DRAFT_COLOR, 210)


def stamped(frame: np.ndarray, stamp: Stamp, bottom: bool = False) -> np.ndarray:
    """The frame with the stamp over its top-left corner (its bottom-left with ``bottom``)."""
    rgb, alpha = stamp
    h, w = alpha.shape[:2]
    out = frame.copy()
    rows = slice(out.shape[0] - h, out.shape[0]) if bottom else slice(0, h)
    corner = out[rows, :w].astype(np.float32)
    out[rows, :w] = (corner * (1 - alpha) + rgb * alpha).round().astype(np.uint8)
    return out


def draft_labeller() -> Callable[[np.ndarray], np.ndarray]:
    """A frame transform that labels a draft take's frames (for ``video.concat_videos``); the label is drawn once
    per frame size."""
    stamps: dict[tuple[int, int], Stamp] = {}

    def label(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        stamp = stamps.get((width, height))
        if stamp is None:
            stamp = stamps[(width, height)] = draft_stamp(width, height)
        return stamped(frame, stamp)

    return label
