"""The preview area: the selected shot's clip in a player, the list of its takes, and what each take was made from."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
)

from storyboard.clip_player import ClipPlayer
from storyboard.compare_takes import comparable
from storyboard.note_label import NoteLabel
from storyboard.theme import show_keyboard_focus
from storyboard.trim_points import trim_words
from storymem_engine.models import FP8_PRESETS
from storymem_engine.project import Project
from storymem_engine.render_settings import RenderSettings
from storymem_engine.request import profile_note
from storymem_engine.story import Shot, Story, Take, keyframe_note
from storymem_engine.tiny import TINY_LABEL
from storymem_engine.words import counted


def _take_line(take: Take, accepted: bool, status: str) -> str:
    """A take's line in the list: "★ Take 2 · M2V · seed 7 · 81 frames · done · <made>"."""
    seed = take.request.get("seed")
    start, stop = take.cut_range()
    frames = f"{stop - start} of {take.frames} frames" if take.trimmed else f"{take.frames} frames"
    details = [f"Take {take.number}", mode_words(take.request), profile_note(take.request),
               keyframe_note(take.backends), f"seed {seed}" if seed is not None else "", frames,
               status, _created(take.created) if take.created else "", take.engine if take.engine == TINY_LABEL else ""]
    return ("★ " if accepted else "   ") + "  ·  ".join(d for d in details if d)


def _created(text: str) -> str:
    """An ISO time stamp (UTC in takes) as local time, seconds precision."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return text
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


SEED_RULE_WORDS = {"scene": "story seed + index in scene", "story": "story seed + shot index",
                   "shot": "set on the shot", "fresh": "drawn for this take"}


def mode_words(request: dict[str, Any]) -> str:
    """The mode a take was made in, as the README names them: an M2V shot made from cast images alone (the first
    shot with a member attached) is MR2V."""
    mode = str(request.get("mode", "")).upper()
    keys = [str(k) for k in request.get("memory_keys") or []]
    if mode == "M2V" and keys and all(k.startswith("ref:") for k in keys):
        return "MR2V"
    return mode


def take_details(take: Take) -> list[tuple[str, str]]:
    """What a take was made from, as (label, value) rows; fields its request lacks are left out."""
    r: dict[str, Any] = take.request or {}
    rows: list[tuple[str, str]] = []
    if r.get("mode"):
        rows.append(("mode", mode_words(r)))
    if r.get("seed") is not None:
        rule = SEED_RULE_WORDS.get(str(r.get("seed_rule", "")), "")
        rows.append(("seed", f"{r['seed']} ({rule})" if rule else str(r["seed"])))
    if r.get("width") and r.get("height"):
        rows.append(("size", f"{r['width']}×{r['height']}"))
    if r.get("num_frames") is not None:
        made = f" ({take.frames} kept)" if take.frames and take.frames != r["num_frames"] else ""
        rows.append(("frames", f"{r['num_frames']}{made}"))
    elif take.frames:
        rows.append(("frames", str(take.frames)))
    if r.get("steps") is not None:
        rows.append(("steps", str(r["steps"])))
    if r.get("guidance") is not None:
        rows.append(("guidance", f"{float(r['guidance']):g}"))
    if "memory_keys" in r or "memory" in r:
        keys = [str(k) for k in r.get("memory_keys") or []]
        cast = sum(1 for k in keys if k.startswith("ref:"))
        count = len(keys) - cast if keys else len(r.get("memory") or [])
        parts = ([counted(count, "keyframe")] if count or not cast else []) + (
            [counted(cast, "cast image")] if cast else [])
        rows.append(("memory", ", ".join(parts)))
    if take.keyframes_note:
        rows.append(("keyframes", f"{'none added' if not take.keyframes else 'fewer added'}: {take.keyframes_note}"))
    engine = take.engine or r.get("engine")
    if engine:
        rows.append(("engine", str(engine)))
    if take.backends.get("gpus"):
        rows.append(("GPUs", take.backends["gpus"]))
    note = keyframe_note(take.backends)
    if note:
        rows.append(("note", note))
    if profile_note(r):
        rows.append(("profile", profile_note(r)))
    if r.get("vae_tiling"):
        rows.append(("VAE", "tiled"))
    if r.get("offload") in FP8_PRESETS:
        rows.append(("note", "experts stored in fp8 (fp8_offload): not the method's exact numbers"))
    if take.trimmed:
        rows.append(("trim", trim_words(take)))
    if take.created:
        rows.append(("created", _created(take.created)))
    if take.status != "done":
        rows.append(("status", take.status))
    return rows


def take_summary(take: Take) -> str:
    """One line: ``mode M2V · seed 3 · size 64×48 · …``."""
    return " · ".join(f"{label} {value}" for label, value in take_details(take)) or "no request recorded"


def memory_used(story: Story, take: Take) -> str:
    """The keyframes a take was made from, as the memory strip names them ("shot 1 · kf 1, 2; shot 3 · kf 1"), in
    the order it remembered them; "" when it recorded none. Keyframes of takes deleted since are counted as such."""
    keys = [str(k) for k in (take.request or {}).get("memory_keys") or []]
    shot_of = {t.id: row for row, shot in enumerate(story.shots) for t in shot.takes}
    by_shot: dict[int, list[str]] = {}
    cast = gone = 0
    for key in keys:
        take_id, _, n = key.rpartition(":")
        if key.startswith("ref:"):
            cast += 1
        elif take_id in shot_of and n.isdigit():
            by_shot.setdefault(shot_of[take_id], []).append(str(int(n) + 1))
        else:
            gone += 1
    parts = [f"shot {row + 1} · kf {', '.join(kfs)}" for row, kfs in by_shot.items()]
    parts += [counted(cast, "cast image")] * bool(cast) + [f"{counted(gone, 'keyframe')} of deleted takes"] * bool(gone)
    return "; ".join(parts)


def take_tooltip(take: Take, accepted: bool, story: Story | None = None) -> str:
    lines = [f"Take {take.number}" + (" (accepted)" if accepted else "")]
    lines += [f"{label}: {value}" for label, value in take_details(take)]
    used = memory_used(story, take) if story is not None else ""
    if used:
        lines.append(f"made from: {used}")
    prompt = str((take.request or {}).get("prompt", ""))
    if prompt:
        lines.append("prompt: " + (prompt if len(prompt) <= 200 else prompt[:200] + "…"))
    return "\n".join(lines)


CARD_WIDTH = 480  # an animatic card in the player while the cut plays (scaled to the screen like a clip)


class PreviewPanel(QGroupBox):
    accept_requested = Signal(str, str)  # shot id, take id
    delete_requested = Signal(str, str)  # shot id, take id
    next_requested = Signal()  # the shown shot played to its end with Play on: show the next one
    compare_requested = Signal()  # the takes list's "Compare with another take"

    def __init__(self, parent=None) -> None:
        super().__init__("Preview", parent)
        self.setObjectName("preview")
        self.project: Project | None = None
        self.shot: Shot | None = None
        # Takes whose clip the player could not decode (ids are unique; a take made again is a new take).
        self._damaged: set[str] = set()
        self.player = ClipPlayer(trimmable=True)
        self.takes = QListWidget()
        self.takes.setObjectName("takes")
        self.takes.setAccessibleName("Takes")  # a screen reader said the box's title, "Preview"
        show_keyboard_focus(self.takes)
        self.takes.setMaximumHeight(90)
        # A row longer than the list ends in "…" (its tooltip has it whole): a sideways scroll bar took one of its
        # two or three visible rows on a small screen.
        self.takes.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.takes.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.takes.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.takes.customContextMenuRequested.connect(self._context_menu)
        self.accept_button = QPushButton("Accept take")
        self.accept_button.setToolTip("Use the selected take for this shot (the film and later shots' memory). "
                                      "Double-click or Enter on a take does the same.")
        self.delete_button = QPushButton("Delete take")
        self.delete_button.setObjectName("delete_take")
        self.delete_button.setToolTip("Remove the selected take from the shot (Del). Edit > Undo brings it back; "
                                      "its files stay in the project folder.")
        # As tall as its wrapped text: a plain QLabel counted one line, and the player's controls slid over the
        # clip when the panel got only its minimum height (1440x900, a take with two lines of details).
        self.details = NoteLabel()
        self.details.setObjectName("take_details")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.takes.currentItemChanged.connect(self._show_take)
        self.player.unplayable.connect(self._unplayable)
        self.player.finished.connect(self.next_requested)
        self.takes.itemActivated.connect(lambda _item: self._accept())
        self.accept_button.clicked.connect(self._accept)
        self.delete_button.clicked.connect(self._delete)
        # Del on the takes list only (the timeline's Del deletes shots). PySide ignores a context passed
        # to the constructor, so it is set afterwards.
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.takes)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete_key.activated.connect(self._delete)
        buttons = QVBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.takes, 1)
        row.addLayout(buttons, 0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.player, 1)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self.set_shot(None, None)

    def set_shot(self, project: Project | None, shot: Shot | None) -> None:
        self.project, self.shot = project, shot
        self.takes.blockSignals(True)
        self.takes.clear()
        current: QListWidgetItem | None = None
        for take in shot.takes if shot else []:
            accepted = take.id == shot.accepted_take
            item = QListWidgetItem(_take_line(take, accepted, self._status(take)))
            item.setData(Qt.ItemDataRole.UserRole, take.id)
            item.setToolTip(take_tooltip(take, accepted, self.project.story if self.project else None))
            self.takes.addItem(item)
            if accepted:
                current = item
        if current is None and self.takes.count():
            current = self.takes.item(self.takes.count() - 1)  # the newest take
        self.takes.blockSignals(False)
        if shot is None:
            self.player.clear("No shot selected")
        elif self.player.autoplay and shot.accepted() is None and project is not None:
            self._show_card(project, shot)  # the cut plays on: this shot is its animatic card there
        elif not shot.takes:
            self.player.clear("No takes yet.\nGenerate menu > Generate shot.")
        else:
            # Silently, then shown once: the change signal showed it too, and every card selected decoded its clip
            # twice (~0.5-1 s of a core for an 81-frame 832x480 clip, the first decode thrown away).
            self.takes.blockSignals(True)
            self.takes.setCurrentItem(current)
            self.takes.blockSignals(False)
            self._show_take(current, None)
        self._update_controls()

    def _status(self, take: Take) -> str:
        if self.project is not None and self.project.file_missing(take.clip):
            return "MISSING clip"
        return "DAMAGED clip" if take.id in self._damaged else take.status

    def _show_card(self, project: Project, shot: Shot) -> None:
        from storyboard.animatic import render_card
        from storyboard.frames import array_to_qimage
        from storymem_engine.shot_timing import FPS, card_frames

        settings = project.settings or RenderSettings()
        card_height = max(2, round(CARD_WIDTH * settings.height / settings.width / 2) * 2)
        number = project.story.shot_index(shot.id) + 1
        image = array_to_qimage(render_card(shot.prompt, number, shot.scene_num, shot.cut, CARD_WIDTH, card_height))
        self.player.show_card(image, card_frames(shot, settings.frames), FPS)

    def current_take(self) -> Take | None:
        return self._take(self.takes.currentItem())

    def _take(self, item: QListWidgetItem | None) -> Take | None:
        if item is None or self.shot is None:
            return None
        return self.shot.take(item.data(Qt.ItemDataRole.UserRole))

    def _can_accept(self, take: Take | None) -> bool:
        """A finished take other than the accepted one whose clip is there and plays: accepting a take whose clip is
        gone or damaged only turned its card MISSING or DAMAGED."""
        return (take is not None and self.shot is not None and take.id != self.shot.accepted_take
                and take.status == "done" and bool(take.clip) and take.id not in self._damaged
                and not (self.project is not None and self.project.file_missing(take.clip)))

    def _update_controls(self) -> None:
        take = self.current_take()
        self.accept_button.setEnabled(self._can_accept(take))
        self.delete_button.setEnabled(take is not None)
        if take is None:
            self.details.setText("")
        else:
            self.details.setText(f"Take {take.number}: {take_summary(take)}")
            self.details.setToolTip(take_tooltip(take, take.id == self.shot.accepted_take,
                                                 self.project.story if self.project else None))

    def _unplayable(self, path) -> None:
        """The player could not decode the current take's clip: its line in the list says so (it said "done")."""
        item = self.takes.currentItem()
        take = self._take(item)
        if take is None or self.project is None or not take.clip:
            return
        try:
            shown = self.project.resolve(take.clip)
        except ValueError:
            return
        if shown == path:
            self._damaged.add(take.id)
            item.setText(_take_line(take, take.id == self.shot.accepted_take,
                                    "DAMAGED clip"))
            self._update_controls()

    def _show_take(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        self._update_controls()
        take = self._take(item)
        if take is None or self.project is None:
            return
        if take.status == "failed" or not take.clip:
            self.player.clear(f"Take {take.number} failed: no clip")
            return
        try:
            path = self.project.resolve(take.clip)
        except ValueError as exc:
            self.player.clear(str(exc))
            return
        self.player.load(path, take.trim_range)

    def refresh_trim(self) -> None:
        """The shown take's in or out point changed (or was undone): the player's bar and counter and the take's
        line follow, without decoding the clip again."""
        take = self.current_take()
        item = self.takes.currentItem()
        if take is None or item is None or self.shot is None:
            return
        cut = take.trim_range
        if self.player.frames and self.player.path is not None and self.player.cut != cut:
            self.player.set_cut(*cut)
        item.setText(_take_line(take, take.id == self.shot.accepted_take,
                                self._status(take)))
        self._update_controls()

    def _accept(self) -> None:
        take = self.current_take()
        if self._can_accept(take):
            self.accept_requested.emit(self.shot.id, take.id)

    def _delete(self) -> None:
        take = self.current_take()
        if take is not None and self.shot is not None:
            self.delete_requested.emit(self.shot.id, take.id)

    def _copy_request(self) -> None:
        take = self.current_take()
        if take is not None:
            QGuiApplication.clipboard().setText(json.dumps(take.request, indent=2, ensure_ascii=False))

    # ------------------------------------------------------------ context menu
    def context_menu(self) -> QMenu:
        """The menu for the current take (built on demand; tests trigger its actions)."""
        menu = QMenu(self)
        accept = menu.addAction("Accept take", self._accept)
        accept.setEnabled(self.accept_button.isEnabled())
        delete = menu.addAction("Delete take", self._delete)
        delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete.setEnabled(self.delete_button.isEnabled())
        menu.addSeparator()
        compare = menu.addAction("Compare with another take…", self.compare_requested)
        compare.setEnabled(len(comparable(self.shot)) > 1)
        copy = menu.addAction("Copy request (JSON)", self._copy_request)
        copy.setEnabled(self.current_take() is not None)
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        item = self.takes.itemAt(pos)
        if item is None:
            return
        self.takes.setCurrentItem(item)
        menu = self.context_menu()
        menu.exec(self.takes.viewport().mapToGlobal(pos))
        menu.deleteLater()
