"""Animatic cards: a shot without a take rendered as a plain frame with its number, scene and prompt."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from storyboard.card_delegate import CUT_COLOR, scene_color
from storyboard.frames import qimage_to_array


def render_card(prompt: str, number: int, scene_num: int, cut: bool, width: int, height: int) -> np.ndarray:
    """The card as a uint8 RGB [height, width, 3] array (needs a QGuiApplication)."""
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(QColor("#1c1917"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    unit = max(height / 480.0, 0.25)
    margin = int(32 * unit)

    band = QRect(0, 0, width, int(56 * unit))
    painter.fillRect(band, scene_color(scene_num))
    title = QFont("DejaVu Sans")
    title.setPixelSize(max(int(28 * unit), 8))
    title.setBold(True)
    painter.setFont(title)
    painter.setPen(QColor("white"))
    painter.drawText(band.adjusted(margin, 0, -margin, 0), Qt.AlignmentFlag.AlignVCenter,
                     f"SHOT {number}  ·  SCENE {scene_num}")
    painter.setPen(QColor("white") if cut else QColor("#e7e5e4"))
    painter.drawText(band.adjusted(margin, 0, -margin, 0),
                     Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                     "CUT" if cut else "CONTINUES")
    if cut:
        painter.fillRect(QRect(0, band.bottom(), int(10 * unit) or 1, height), CUT_COLOR)

    body = QFont("DejaVu Sans")
    body.setPixelSize(max(int(24 * unit), 7))
    painter.setFont(body)
    painter.setPen(QColor("#f5f5f4"))
    text_box = QRect(margin, band.bottom() + margin, width - 2 * margin, height - band.height() - 3 * margin)
    painter.drawText(text_box, Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                     prompt.strip() or "(empty prompt)")

    foot = QFont("DejaVu Sans")
    foot.setPixelSize(max(int(16 * unit), 6))
    painter.setFont(foot)
    painter.setPen(QColor("#a8a29e"))
    painter.drawText(QRect(margin, height - margin - int(20 * unit), width - 2 * margin, int(24 * unit)),
                     Qt.AlignmentFlag.AlignLeft, "animatic card: no accepted take yet")
    painter.end()
    return qimage_to_array(image)
