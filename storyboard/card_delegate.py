"""Paints one shot card: thumbnail or prompt text, shot and scene number, cut marker, status badge."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from storyboard.shot_fields import first_words
from storyboard.timeline_model import ShotRole
from storyboard.trim_bar import paint_trim_bar
from storymem_engine.request import profile_note
from storymem_engine.story import Shot, keyframe_note
from storymem_engine.tiny import TINY_LABEL

CARD_SIZE = QSize(196, 176)
THUMB_HEIGHT = 110
PROGRESS_STRIP = 20  # px of the live progress strip at the bottom of the thumbnail area
# View > Zoom timeline: card widths, narrowest first (the height stays: the strip never changes height). Below
# NARROW the footer drops the scene's name (its band keeps the colour) and "continues" shortens to its arrow;
# below TINY the status badge is a dot of its colour (the tooltip names it): "#12" and GENERATING do not fit.
# At the narrowest about 14 cards show on a 1440-px window, a 54-shot story in four screens.
CARD_WIDTHS = (96, 132, 160, CARD_SIZE.width())
NARROW = 150
TINY = 120
SELECTED_COLOR = QColor("#60a5fa")
# The selection while the keyboard is elsewhere (typing a prompt): greyer, so the focused strip stands out.
SELECTED_AWAY_COLOR = QColor("#64748b")

STATUS_COLORS = {
    "empty": QColor("#6b7280"),
    "queued": QColor("#a16207"),
    "generating": QColor("#2563eb"),
    "done": QColor("#15803d"),
    "stale": QColor("#c2410c"),
    "failed": QColor("#b91c1c"),
    "missing": QColor("#7f1d1d"),
    "damaged": QColor("#7f1d1d"),
}
SCENE_COLORS = [QColor("#0e7490"), QColor("#7c3aed"), QColor("#b45309"), QColor("#be185d"), QColor("#4d7c0f")]
CUT_COLOR = QColor("#dc2626")

# (image cacheKey, w, h) -> the thumbnail scaled to the card: smooth scaling on every repaint of every
# visible card was a measurable part of a drop in a long timeline. Bounded: cleared when it grows.
_SCALED: dict[tuple[int, int, int], QImage] = {}


def _scaled(image: QImage, size: QSize) -> QImage:
    key = (image.cacheKey(), size.width(), size.height())
    scaled = _SCALED.get(key)
    if scaled is None:
        if len(_SCALED) > 2000:
            _SCALED.clear()
        scaled = _SCALED[key] = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
    return scaled


def scene_color(scene_num: int) -> QColor:
    return SCENE_COLORS[(scene_num - 1) % len(SCENE_COLORS)]


class ShotCardDelegate(QStyledItemDelegate):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.size = QSize(CARD_SIZE)  # View > Zoom timeline changes its width

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self.size

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        shot: Shot = index.data(ShotRole.SHOT)
        if shot is None:
            return
        number: int = index.data(ShotRole.NUMBER)
        status: str = index.data(ShotRole.STATUS)
        thumb: QImage | None = index.data(ShotRole.THUMBNAIL)
        previous = index.model().index(index.row() - 1, 0).data(ShotRole.SHOT) if index.row() > 0 else None
        scene_starts = previous is None or previous.scene_num != shot.scene_num
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        view = option.widget
        focused = view is not None and view.hasFocus()
        paint_card(painter, option.rect, shot, number, status, thumb, scene_starts, selected,
                   index.data(ShotRole.PROGRESS) if status == "generating" else None, index.data(ShotRole.CAST) or [],
                   focused=focused, current=focused and bool(option.state & QStyle.StateFlag.State_HasFocus),
                   opens=previous is None)


CAST_COLOR = QColor("#7c3aed")


def _paint_cast_chips(painter: QPainter, area: QRect, names: list[str], font: QFont) -> None:
    """The attached cast members as small violet chips with their initials, bottom right of the thumbnail."""
    shown = names[:3]
    labels = [initials(name) for name in shown]
    if len(names) > len(shown):
        labels.append(f"+{len(names) - len(shown)}")
    painter.setFont(font)
    metrics = painter.fontMetrics()
    right = area.right() - 3
    for label in reversed(labels):
        width = max(metrics.horizontalAdvance(label) + 10, 18)
        chip = QRect(right - width, area.bottom() - 18, width, 16)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(CAST_COLOR)
        painter.drawRoundedRect(chip, 7, 7)
        painter.setPen(QColor("white"))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, label)
        right -= width + 3


def initials(name: str) -> str:
    """A member's initials for its chip: the first letter or digit of its first two words ("References (lh/)" is
    "RL", not "R(")."""
    words = ["".join(ch for ch in word if ch.isalnum()) for word in name.split()]
    return "".join(word[0] for word in words if word)[:2].upper() or "?"


def paint_card(
    painter: QPainter,
    rect: QRect,
    shot: Shot,
    number: int,
    status: str,
    thumb: QImage | None,
    scene_starts: bool,
    selected: bool,
    progress: tuple[float, str] | None = None,
    cast: list[str] | tuple[str, ...] = (),
    focused: bool = True,
    current: bool = False,
    opens: bool = False,
) -> None:
    """``focused``: the strip has the keyboard; ``current``: this is the card the arrow keys move from (a white
    ring inside the border); ``opens``: the story's first shot, which opens it whatever its cut mark says."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    card = rect.adjusted(6, 4, -4, -4)
    border = SELECTED_COLOR if focused else SELECTED_AWAY_COLOR
    painter.setPen(QPen(border if selected else QColor("#3f3f46"), 3 if selected else 1))
    painter.setBrush(QColor("#1f2937") if selected else QColor("#18181b"))
    painter.drawRoundedRect(card, 6, 6)
    if current:
        painter.setPen(QPen(QColor("white"), 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(card.adjusted(3, 3, -3, -3), 4, 4)

    # Scene band: full colour with a label where a new scene starts, a thin line otherwise.
    band = QRect(card.left() + 1, card.top() + 1, card.width() - 2, 18 if scene_starts else 4)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(scene_color(shot.scene_num))
    painter.drawRect(band)
    small = QFont(painter.font())
    small.setPointSizeF(max(small.pointSizeF() - 1, 7))
    if scene_starts:
        painter.setPen(QColor("white"))
        bold = QFont(small)
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(band.adjusted(6, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, f"SCENE {shot.scene_num}")

    # Thumbnail of the accepted take's first frame, or the prompt's first words.
    area = QRect(card.left() + 6, card.top() + 24, card.width() - 12, THUMB_HEIGHT - 12)
    # The words and the cast chips keep clear of the progress strip (it covered the last line and dimmed the chips).
    above = area.adjusted(0, 0, 0, -PROGRESS_STRIP) if progress is not None else area
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#27272a"))
    painter.drawRect(area)
    if thumb is not None and not thumb.isNull():
        scaled = _scaled(thumb, area.size())
        x = area.left() + (area.width() - scaled.width()) // 2
        y = area.top() + (area.height() - scaled.height()) // 2
        painter.drawImage(x, y, scaled)
        take = shot.accepted()
        painter.setPen(QColor("#fbbf24"))
        painter.setFont(small)
        if take is not None and take.engine == TINY_LABEL:
            # Random-weight output must never pass for a real render.
            painter.drawText(area.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                             "tiny engine")
        if take is not None and profile_note(take.request):
            # A distilled draft is never mistaken for the method's render.
            painter.drawText(area.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                             "DRAFT")
        if take is not None and keyframe_note(take.backends):
            # Its memory keyframes were not picked the method's way: say so where the take is seen.
            painter.drawText(area.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                             "no CLIP")
        if take is not None and take.trimmed:
            # In and out points set: the part of the clip on the cut, as the player's bar shows it (below the cast
            # chips and the corner labels).
            paint_trim_bar(painter, QRect(area.left(), area.bottom() - 2, area.width(), 3), *take.cut_range(),
                           take.frames)
    else:
        painter.setPen(QColor("#d4d4d8"))
        painter.setFont(small)
        inner = above.adjusted(6, 4, -6, -4)
        painter.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                         "\n".join(wrapped_lines(first_words(shot.prompt), painter.fontMetrics(), inner.width(),
                                                  inner.height())))

    if cast:
        _paint_cast_chips(painter, above, list(cast), small)

    if progress is not None:
        # Live progress over the thumbnail area: a bar and "step n/N · phase · ETA".
        fraction, text = progress
        strip = QRect(area.left(), area.bottom() - PROGRESS_STRIP + 1, area.width(), PROGRESS_STRIP)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRect(strip)
        painter.setBrush(STATUS_COLORS.get("generating", QColor("#2563eb")))
        painter.drawRect(QRect(strip.left(), strip.bottom() - 3, int(strip.width() * fraction), 4))
        painter.setPen(QColor("white"))
        painter.setFont(small)
        inner = strip.adjusted(4, 0, -4, -4)
        text = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, inner.width())  # narrow cards
        painter.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)

    # Cut marker: a red bar on the card's left edge and a "CUT" tag; continuation shows a link.
    footer = QRect(card.left() + 6, area.bottom() + 6, card.width() - 12, card.bottom() - area.bottom() - 8)
    cut = shot.cut or opens  # nothing before shot 1 to continue: it is made as a cut, and shown as one
    if cut:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(CUT_COLOR)
        painter.drawRect(QRect(card.left() - 5, card.top() + 2, 5, card.height() - 4))
    numfont = QFont(painter.font())
    numfont.setBold(True)
    numfont.setPointSizeF(numfont.pointSizeF() + 1)
    painter.setFont(numfont)
    painter.setPen(QColor("white"))
    painter.drawText(footer, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, f"#{number}")
    painter.setFont(small)
    painter.setPen(CUT_COLOR if cut else QColor("#a1a1aa"))
    line2 = QRect(footer.left(), footer.top() + 22, footer.width(), 16)
    narrow = rect.width() < NARROW
    painter.drawText(line2, Qt.AlignmentFlag.AlignLeft, ("✂" if rect.width() < TINY else "✂ CUT") if cut
                     else "↪" if narrow else "↪ continues")
    if not narrow:
        painter.setPen(QColor("#a1a1aa"))
        painter.drawText(line2, Qt.AlignmentFlag.AlignRight, f"scene {shot.scene_num}")

    # Status badge.
    painter.setFont(small)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(STATUS_COLORS.get(status, QColor("#6b7280")))
    if rect.width() < TINY:
        painter.drawEllipse(QRect(footer.right() - 13, footer.top() + 3, 13, 13))
        painter.restore()
        return
    label = status.upper()
    width = painter.fontMetrics().horizontalAdvance(label) + 14
    badge = QRect(footer.right() - width, footer.top() + 1, width, 17)
    painter.drawRoundedRect(badge, 8, 8)
    painter.setPen(QColor("white"))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
    painter.restore()


def wrapped_lines(text: str, metrics: QFontMetrics, width: int, height: int) -> list[str]:
    """``text`` in the lines that fit ``width`` x ``height``, the last one ending in "…" where the text goes on
    (Qt's word wrap cuts the last line off mid-height instead), a word wider than a line elided on its own."""
    most = max(1, height // metrics.lineSpacing())
    lines: list[str] = []
    words = text.split()
    for n, word in enumerate(words):
        line = f"{lines[-1]} {word}" if lines else word
        if lines and metrics.horizontalAdvance(line) <= width:
            lines[-1] = line
        elif len(lines) == most:
            rest = " ".join([lines[-1], *words[n:]])
            lines[-1] = metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width)
            if not lines[-1].endswith("…"):
                lines[-1] = metrics.elidedText(lines[-1] + " …", Qt.TextElideMode.ElideRight, width)
            return lines
        else:
            lines.append(metrics.elidedText(word, Qt.TextElideMode.ElideRight, width))
    return lines
