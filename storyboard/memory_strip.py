"""The memory strip: the selected shot's memory bank, oldest first, with what the shot is conditioned on.

Every keyframe of the accepted takes before the shot is shown; the ones in its memory (sink + window,
the story's pins and exclusions) are framed and bright, the rest dimmed (only the newest unused ones are
listed: a long story's bank holds thousands). Thumbnails decode off the UI thread. The user pins a keyframe
(always kept in memory) or excludes one (never used) with the buttons under the strip, the context
menu of a keyframe, or the P / X keys. The strip only asks: the edits are undo commands made by the
window's EditController.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGroupBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
)

from storyboard.button_rows import ButtonRows
from storyboard.frame_loader import FrameLoader
from storyboard.memory import bank_generation, memory_bank
from storyboard.note_label import NOTE_STYLE
from storyboard.shot_numbers import shots_in_words
from storyboard.theme import show_keyboard_focus
from storymem_engine.cast import member_of_key
from storymem_engine.memory import Keyframe, select_memory, take_of_key
from storymem_engine.project import Project, file_stamp
from storymem_engine.words import counted

THUMB = QSize(112, 64)
FRAME = 4  # the "in memory" frame drawn around a thumbnail
UNLIMITED = 16_777_215  # QWIDGETSIZE_MAX, which PySide does not export
ICON = QSize(THUMB.width() + 2 * FRAME, THUMB.height() + 2 * FRAME)
KEY_ROLE = Qt.ItemDataRole.UserRole
STATE_ROLE = Qt.ItemDataRole.UserRole + 1
SHOT_ROLE = Qt.ItemDataRole.UserRole + 2
IMAGE_ROLE = Qt.ItemDataRole.UserRole + 3

IN_MEMORY_COLOR = QColor("#22c55e")
PIN_COLOR = QColor("#f59e0b")
EXCLUDED_COLOR = QColor("#ef4444")
UNUSED_TEXT = QColor("#71717a")

# A keyframe's state for the shot: in its memory (by policy or pinned), left out by sink + window, or excluded.
STATE_TEXT = {"memory": "in memory", "pinned": "pinned", "unused": "not used", "excluded": "excluded"}
# Unused keyframes listed (the newest ones, just older than the window): a long story's bank holds thousands,
# and an older keyframe can be pinned from an earlier shot, whose window still holds it.
MAX_UNUSED_SHOWN = 24


@dataclass(frozen=True)
class StripEntry:
    keyframe: Keyframe
    shot_number: int  # 0 for a reference image
    state: str  # a STATE_TEXT key


def strip_entries(project: Project, index: int, size: int, sink: int,
                  max_unused: int = MAX_UNUSED_SHOWN) -> tuple[list[StripEntry], int, str]:
    """What the strip lists for shot ``index``: every keyframe of its bank that is in memory, pinned or
    excluded, plus the newest ``max_unused`` unused ones, each with its state; how many keyframes the
    whole bank holds; and an error when the pins do not fit.

    Entries are made for listed keyframes only: near the end of a long story the bank holds thousands,
    and the strip refills on every drop in the timeline.
    """
    story = project.story
    bank = memory_bank(story, index)
    pins, exclusions = set(story.memory_pins), set(story.memory_exclusions)
    error = ""
    try:
        chosen = {k.key for k in select_memory(bank, size, min(sink, size), pinned=pins, excluded=exclusions)}
    except ValueError:
        pinned_here = sum(1 for k in bank if k.key in pins and k.key not in exclusions)
        error = (f"{pinned_here} keyframes are pinned but the memory holds {size}: unpin some "
                 "(or raise the memory size in Generate > Render settings) before generating this shot.")
        chosen = set()
    marked = chosen | pins | exclusions
    unused = [i for i, k in enumerate(bank) if k.key not in marked]
    hidden = set(unused[:-max_unused] if max_unused > 0 else unused)
    numbers = {shot.id: n for n, shot in enumerate(story.shots, start=1)}
    entries = []
    for keyframe in (k for i, k in enumerate(bank) if i not in hidden):
        if keyframe.key in exclusions:
            state = "excluded"
        elif keyframe.key in pins:
            state = "pinned"
        else:
            state = "memory" if keyframe.key in chosen else "unused"
        entries.append(StripEntry(keyframe, numbers.get(keyframe.shot_id, 0), state))
    return entries, len(bank), error


def _paint_pin(painter: QPainter, center: QPointF) -> None:
    """A small push-pin: a round head and a needle (drawn, so it needs no emoji font)."""
    painter.setPen(QPen(QColor("#18181b"), 1.5))
    painter.setBrush(PIN_COLOR)
    painter.drawEllipse(center, 8.5, 8.5)
    painter.setPen(QPen(QColor("#18181b"), 2.0))
    painter.drawLine(center + QPointF(-3.0, 3.0), center + QPointF(-7.5, 7.5))
    painter.setBrush(QColor("#fef3c7"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(center + QPointF(-2.0, -2.0), 2.5, 2.5)


REFERENCE_COLOR = QColor("#a78bfa")
LOADING = QImage()  # placeholder for an image that is being decoded
MISSING_KEY = "|-1.0"  # the image key's mtime part for a file that is not there, or is empty


def keyframe_icon(image: QImage | None, state: str, reference: bool = False, unreadable: bool = False) -> QIcon:
    """The thumbnail with its state drawn on: a green frame (in memory), a pin, or dimmed and crossed out;
    a cast reference also gets a violet inner frame, so it never passes for a generated keyframe. Without an
    image it says "missing", or "unreadable" for a file that is there but does not decode."""
    canvas = QPixmap(ICON)
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    inner = QRect(FRAME, FRAME, THUMB.width(), THUMB.height())
    if state in ("memory", "pinned"):
        painter.fillRect(canvas.rect(), PIN_COLOR if state == "pinned" else IN_MEMORY_COLOR)
    painter.fillRect(inner, QColor("#111113"))
    if image is LOADING:
        pass  # the decode is on its way; the frame already shows the state
    elif image is not None and not image.isNull():
        scaled = image.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        at = inner.topLeft() + QPoint((THUMB.width() - scaled.width()) // 2, (THUMB.height() - scaled.height()) // 2)
        painter.setOpacity(1.0 if state in ("memory", "pinned") else 0.35)
        painter.drawImage(at, scaled)
        painter.setOpacity(1.0)
    else:
        painter.setPen(UNUSED_TEXT)
        painter.drawText(inner, Qt.AlignmentFlag.AlignCenter, "unreadable" if unreadable else "missing")
    if state == "excluded":
        painter.setPen(QPen(EXCLUDED_COLOR, 3.0))
        painter.drawLine(inner.topLeft() + QPoint(6, 6), inner.bottomRight() - QPoint(6, 6))
        painter.drawLine(inner.topRight() + QPoint(-6, 6), inner.bottomLeft() + QPoint(6, -6))
    if state == "pinned":
        _paint_pin(painter, QPointF(inner.right() - 10.0, inner.top() + 10.0))
    if reference:
        painter.setPen(QPen(REFERENCE_COLOR, 3.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(inner.adjusted(2, 2, -2, -2))
    painter.end()
    icon = QIcon(canvas)
    icon.addPixmap(canvas, QIcon.Mode.Selected)  # no selection tint: the state colours must stay readable
    return icon


def _image_note(image_key: str, image: QImage | None, reference: bool) -> str:
    """What a keyframe's tooltip adds when its file cannot be shown ("" while it decodes, or when it did)."""
    if image is not None or not image_key:
        return ""
    remedy = "add the image again in the Cast tab" if reference else "generate its shot again"
    if image_key.endswith(MISSING_KEY):
        return f"\nThe file is not in the project folder, or is empty: {remedy}."
    return f"\nThe file is there but cannot be read (damaged or cut off): {remedy}."


class MemoryStrip(QGroupBox):
    pin_requested = Signal(list, bool)  # keyframe keys, pin (True) or unpin
    exclude_requested = Signal(list, bool)  # keyframe keys, exclude (True) or include again
    clear_requested = Signal()  # drop every pin and exclusion of the story
    shot_requested = Signal(str)  # shot id: show the shot a keyframe comes from

    def __init__(self, parent=None) -> None:
        super().__init__("Memory", parent)
        self.setObjectName("memory")
        self.list = QListWidget()
        self.list.setObjectName("memory_list")
        self.list.setAccessibleName("Memory keyframes")
        show_keyboard_focus(self.list)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setIconSize(ICON)
        self.list.setGridSize(QSize(ICON.width() + 12, ICON.height() + 40))
        self.list.setWordWrap(True)
        self.list.setFixedHeight(ICON.height() + 62)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.note = QLabel()
        self.note.setObjectName("memory_note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(NOTE_STYLE)

        self.pin_button = QPushButton("Pin")
        self.pin_button.setObjectName("pin_keyframe")
        self.pin_button.setToolTip("Always keep the selected keyframes in memory, for this shot and every later "
                                   "one (P). Pins use the same memory budget as the sink and window.")
        self.exclude_button = QPushButton("Exclude")
        self.exclude_button.setObjectName("exclude_keyframe")
        self.exclude_button.setToolTip("Never use the selected keyframes as memory, for any shot (X)")
        self.clear_button = QPushButton("Clear pins && exclusions")
        self.clear_button.setToolTip("Drop every pin and exclusion of the story: memory goes back to sink + window")
        self.show_unused = QCheckBox("Show unused")
        self.show_unused.setChecked(True)
        self.show_unused.setToolTip("Also show the keyframes this shot is not conditioned on (dimmed), "
                                    "so they can be pinned or included again")
        self.pin_button.clicked.connect(self.toggle_pin)
        self.exclude_button.clicked.connect(self.toggle_exclude)
        self.clear_button.clicked.connect(self.clear_requested)
        self.show_unused.toggled.connect(self._apply_filter)
        for keys, slot in (("P", self.toggle_pin), ("X", self.toggle_exclude)):
            shortcut = QShortcut(QKeySequence(keys), self.list)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)  # PySide ignores it in the constructor
            shortcut.activated.connect(slot)

        # Each entry in one piece (non-breaking spaces): on a narrow window the legend wraps between entries.
        self.legend = QLabel(f"<span style='color:{IN_MEMORY_COLOR.name()}'>■</span>&nbsp;in&nbsp;memory &nbsp; "
                             f"<span style='color:{PIN_COLOR.name()}'>■</span>&nbsp;pinned &nbsp; "
                             f"<span style='color:{EXCLUDED_COLOR.name()}'>✕</span>&nbsp;excluded &nbsp; "
                             "dimmed:&nbsp;not&nbsp;used")
        self.legend.setStyleSheet(NOTE_STYLE)
        self.legend.setWordWrap(True)  # two lines rather than a window wider than a laptop screen
        self.legend.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # The legend takes all the room left: one line unless the panel is narrow.
        self.buttons = ButtonRows([(self.pin_button, 0), (self.exclude_button, 0), (self.clear_button, 0)],
                                  [(self.show_unused, 0), (self.legend, 1)], gap=12)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)  # all the height there is beside the preview (set_narrow)
        layout.addLayout(self.buttons)

        self.keyframes: list[str] = []  # project-relative paths of the keyframes in memory, oldest first
        self.entries: list[StripEntry] = []
        self.error = ""
        self._project: Project | None = None
        self._signature: tuple | None = None
        self._sources: tuple | None = None
        self.hidden_unused = 0  # older unused keyframes of the bank that are not listed
        # Keyframe PNGs decode off the UI thread: "<path>|<mtime>" -> scaled image (None: unreadable).
        self._images: dict[str, QImage | None] = {}
        # (image key, state) -> the drawn icon: a drop in a long timeline refills the strip, and drawing
        # ~30 thumbnails with their frames was most of a refill.
        self._icons: dict[tuple[str, str], QIcon] = {}
        self.pending: set[str] = set()
        self.loader = FrameLoader(self)
        self.loader.image_ready.connect(self._image_ready)
        self._update_buttons()

    # ------------------------------------------------------------ showing a shot
    def show_for(self, project: Project | None, index: int | None, size: int, sink: int) -> None:
        """Show shot ``index``'s bank; a no-op when nothing it shows has changed (keeps the selection)."""
        if project is None or index is None:
            self._signature = None
            self._fill([], 0, "", project)
            self.note.setText("Select a shot to see the keyframes it is conditioned on.")
            return
        story = project.story
        # What the entries are made from: a drop asks twice (the order changed, then the cards' data), and the
        # second ask needs no entries made again to see that nothing changed.
        sources = (id(project), str(project.folder), index, size, sink, bank_generation(story),
                   tuple(story.memory_pins), tuple(story.memory_exclusions),
                   tuple(repr(m.to_dict()) for m in story.cast))
        if sources == self._sources and self._signature is not None:
            return
        self._sources = sources
        entries, total, error = strip_entries(project, index, size, sink)
        # The shown shot's own accepted take too: the note says whether it was made from other memory.
        shown = story.shots[index].accepted_take if 0 <= index < len(story.shots) else None
        signature = (id(project), index, size, sink, tuple(entries), total, error,
                     tuple(story.memory_pins), tuple(story.memory_exclusions),
                     tuple((m.id, m.name) for m in story.cast), shown)
        if signature == self._signature:
            return
        same_shot = self._signature is not None and self._signature[:2] == signature[:2]
        self._signature = signature
        self._fill(entries, total, error, project, keep_scroll=same_shot)
        chosen = [e for e in entries if e.state in ("memory", "pinned")]
        silent = silent_shots_words(story, index)
        if error:
            self.note.setText(f"<span style='color:#f87171'>Shot {index + 1}: {error}</span>")
        elif not entries and index == 0:
            self.note.setText("Shot 1 opens the story: it has no memory, and is generated from its prompt alone "
                              "(or from the cast members attached to it).")
        elif not entries and silent:
            self.note.setText(f"Shot {index + 1} has no memory:{silent}")
        elif not entries:
            self.note.setText(f"Shot {index + 1} has no memory yet: no earlier shot has an accepted take.")
        else:
            pinned = sum(1 for e in chosen if e.state == "pinned")
            excluded = sum(1 for e in entries if e.state == "excluded")
            extra = "".join([f", {pinned} pinned" if pinned else "", f", {excluded} excluded" if excluded else ""])
            hidden = (f" {self.hidden_unused} older unused keyframes are not listed: select an earlier shot "
                      "to pin one." if self.hidden_unused else "")
            cast = sum(1 for e in chosen if e.keyframe.key.startswith("ref:"))
            what, source = ("memory image", f"{cast} from the cast; ") if cast else ("keyframe", "")
            # The strip is what the shot's next take gets; its accepted take may have been made from other memory.
            take = story.shots[index].accepted()
            made = (take.request or {}).get("memory_keys") if take is not None else None
            other = (" Its accepted take was made from other memory (the Takes list's tooltip names it)."
                     if made is not None and set(made) != {e.keyframe.key for e in chosen} else "")
            self.note.setText(
                f"Shot {index + 1}'s next take is conditioned on {len(chosen)} of {counted(total, what)} "
                f"({source}memory {size}, sink {sink}{extra}). Pins and exclusions apply to every shot.{other}"
                f"{hidden}{silent}{set_aside_words(story)}"
            )

    def _fill(self, entries: list[StripEntry], total: int, error: str, project: Project | None,
              keep_scroll: bool = False) -> None:
        selected = set(self.selected_keys())
        scroll = self.list.horizontalScrollBar().value()
        self._project = project
        self.entries, self.error = entries, error
        self.keyframes = [] if error else [e.keyframe.path for e in entries if e.state in ("memory", "pinned")]
        self.hidden_unused = total - len(entries)
        self.list.blockSignals(True)
        self.list.clear()
        for entry in entries:
            kf = entry.keyframe
            cast = member_of_key(project.story, kf.key) if project is not None else None
            source = f"shot {entry.shot_number}" if entry.shot_number else "reference"
            label = f"cast · {cast[0].name}" if cast else f"{source} · kf {kf.frame_index + 1}"
            item = QListWidgetItem(f"{label}\n{STATE_TEXT[entry.state]}")
            item.setData(KEY_ROLE, kf.key)
            item.setData(STATE_ROLE, entry.state)
            item.setData(SHOT_ROLE, kf.shot_id)
            image_key, image = self._image(project, kf.path)
            item.setData(IMAGE_ROLE, image_key)
            item.setIcon(self._icon(image_key, image, entry.state, reference=kf.key.startswith("ref:")))
            what = f"cast reference “{cast[0].name}”" if cast else f"{source}, keyframe {kf.frame_index + 1}"
            note = _image_note(image_key, image, kf.key.startswith("ref:"))
            item.setToolTip(f"{what}: {STATE_TEXT[entry.state]}\n{kf.path}{note}")  # its path says which file
            if entry.state in ("unused", "excluded"):
                item.setForeground(EXCLUDED_COLOR if entry.state == "excluded" else UNUSED_TEXT)
            self.list.addItem(item)
            item.setSelected(kf.key in selected)
        self.list.blockSignals(False)
        self._apply_filter()
        if keep_scroll:
            self.list.horizontalScrollBar().setValue(scroll)
        elif self.list.count():
            self.list.scrollToItem(next((i for i in self.items() if i.isSelected()), self.list.item(0)))
        self._update_buttons()

    def _image(self, project: Project | None, rel: str) -> tuple[str, QImage | None]:
        """The cached thumbnail of a keyframe, or LOADING after asking the loader for it."""
        if project is None:
            return "", None
        try:
            path: Path = project.resolve(rel)
        except (OSError, ValueError):
            return "", None
        stamp = file_stamp(path)  # one stat per keyframe: refills run on every drop
        if stamp is None:  # missing (or empty): shown so, looked at again on the next refill
            key = f"{path}{MISSING_KEY}"
            self._images[key] = None
            return key, None
        key = f"{path}|{stamp}"
        if key in self._images:
            return key, self._images[key]
        if key not in self.pending:
            self.pending.add(key)
            self.loader.image(key, path, THUMB)
        return key, LOADING

    def _icon(self, image_key: str, image: QImage | None, state: str, reference: bool = False) -> QIcon:
        if image is LOADING:
            return keyframe_icon(image, state, reference)  # replaced when the decode arrives (_image_ready)
        icon = self._icons.get((image_key, state, reference))
        if icon is None:
            icon = self._icons[(image_key, state, reference)] = keyframe_icon(
                image, state, reference, unreadable=bool(image_key) and not image_key.endswith(MISSING_KEY))
        return icon

    def _image_ready(self, key: str, image: QImage | None) -> None:
        self.pending.discard(key)
        self._images[key] = image
        for item in self.items():
            if item.data(IMAGE_ROLE) == key:
                reference = str(item.data(KEY_ROLE)).startswith("ref:")
                item.setIcon(self._icon(key, image, item.data(STATE_ROLE), reference=reference))
                item.setToolTip(item.toolTip() + _image_note(key, image, reference))

    def set_narrow(self, narrow: bool) -> None:
        """In a column beside the preview: the keyframes wrap into rows filling its height (one row showed 2.5 of
        a memory of 10), the buttons into two rows. Under the preview: one row, as tall as a keyframe."""
        if narrow == self.buttons.narrow:
            return
        self.buttons.set_narrow(narrow)
        self.list.setWrapping(narrow)
        one_row = ICON.height() + 62
        if narrow:
            self.list.setMinimumHeight(one_row)
            self.list.setMaximumHeight(UNLIMITED)
        else:
            self.list.setFixedHeight(one_row)

    def _apply_filter(self, *_args) -> None:
        show = self.show_unused.isChecked()
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(not show and item.data(STATE_ROLE) in ("unused", "excluded"))

    # ------------------------------------------------------------ selection and requests
    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(r) for r in range(self.list.count())]

    def item_for(self, key: str) -> QListWidgetItem | None:
        return next((i for i in self.items() if i.data(KEY_ROLE) == key), None)

    def state_of(self, key: str) -> str | None:
        item = self.item_for(key)
        return None if item is None else item.data(STATE_ROLE)

    def select_keys(self, keys: list[str]) -> None:
        self.list.clearSelection()
        first = True
        for item in self.items():
            if item.data(KEY_ROLE) in keys:
                if first:
                    self.list.setCurrentItem(item, QItemSelectionModel.SelectionFlag.NoUpdate)
                    first = False
                item.setSelected(True)

    def selected_keys(self) -> list[str]:
        return [i.data(KEY_ROLE) for i in self.items() if i.isSelected() and not i.isHidden()]

    def _selected_states(self) -> list[str]:
        return [i.data(STATE_ROLE) for i in self.items() if i.isSelected() and not i.isHidden()]

    def _update_buttons(self) -> None:
        states = self._selected_states()
        any_selected = bool(states)
        unpin = any_selected and all(s == "pinned" for s in states)
        include = any_selected and all(s == "excluded" for s in states)
        self.pin_button.setText("Unpin" if unpin else "Pin")
        self.exclude_button.setText("Include" if include else "Exclude")
        self.pin_button.setEnabled(any_selected)
        self.exclude_button.setEnabled(any_selected)
        self.clear_button.setEnabled(bool(self._project and (self._project.story.memory_pins
                                                             or self._project.story.memory_exclusions)))

    def toggle_pin(self) -> None:
        """Pin the selected keyframes; unpin them when all of them are pinned already."""
        keys, states = self.selected_keys(), self._selected_states()
        if keys:
            self.pin_requested.emit(keys, not all(s == "pinned" for s in states))

    def toggle_exclude(self) -> None:
        """Exclude the selected keyframes; include them again when all of them are excluded."""
        keys, states = self.selected_keys(), self._selected_states()
        if keys:
            self.exclude_requested.emit(keys, not all(s == "excluded" for s in states))

    def _context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        if not item.isSelected():
            self.select_keys([item.data(KEY_ROLE)])
        menu = self.context_menu()
        menu.exec(self.list.viewport().mapToGlobal(pos))
        menu.deleteLater()  # built per right-click as a child of the panel

    def context_menu(self) -> QMenu:
        """The menu for the selected keyframes (built on demand; tests trigger its actions)."""
        menu = QMenu(self)
        states = self._selected_states()
        keys = self.selected_keys()
        pinned = bool(states) and all(s == "pinned" for s in states)
        excluded = bool(states) and all(s == "excluded" for s in states)
        pin = menu.addAction("Unpin" if pinned else "Pin (always in memory)")
        pin.setShortcut(QKeySequence("P"))
        pin.triggered.connect(lambda: self.pin_requested.emit(keys, not pinned))
        exclude = menu.addAction("Include again" if excluded else "Exclude (never use)")
        exclude.setShortcut(QKeySequence("X"))
        exclude.triggered.connect(lambda: self.exclude_requested.emit(keys, not excluded))
        shot_ids = {self.item_for(k).data(SHOT_ROLE) for k in keys}
        shot_id = next(iter(shot_ids)) if len(shot_ids) == 1 else ""
        if shot_id:
            entry = next(e for e in self.entries if e.keyframe.key == keys[0])
            menu.addSeparator()
            go = menu.addAction(f"Go to shot {entry.shot_number}")
            go.triggered.connect(lambda: self.shot_requested.emit(shot_id))
        return menu


def silent_shots_words(story, index: int) -> str:
    """Earlier shots whose accepted take added no keyframe (all repeats of the memory, none past the quality gate):
    otherwise they are just absent from the strip."""
    silent = [(row, take) for row, take in enumerate(shot.accepted() for shot in story.shots[:index])
              if take is not None and take.status == "done" and not take.keyframes]
    if not silent:
        return ""
    rows = [row for row, _take in silent]
    why = f": {silent[0][1].keyframes_note}" if len(silent) == 1 and silent[0][1].keyframes_note else ""
    return f" {shots_in_words(rows).capitalize()} added no keyframes{why}."


def set_aside_words(story) -> str:
    """Pins and exclusions of keyframes whose take is no longer accepted: kept (accepting it again brings them
    back), but applying to nothing now, which the strip would not show."""
    # None: a cast image's key, which belongs to no take.
    held = {None} | {take.id for take in (shot.accepted() for shot in story.shots) if take is not None}
    idle = [key for key in [*story.memory_pins, *story.memory_exclusions] if take_of_key(key) not in held]
    if not idle:
        return ""
    one = len(idle) == 1
    return (f" {counted(len(idle), 'pin or exclusion', 'pins and exclusions')} belong{'s' * one} to "
            f"{'a take' if one else 'takes'} no longer accepted: {'it applies' if one else 'they apply'} again if "
            f"{'it is' if one else 'those are'} accepted (Clear pins & exclusions drops {'it' if one else 'them'}).")
