"""The timeline as a Qt list model: an adapter over the engine's Story (which stays Qt-free).

Rows are the story's shots in order; ``moveRows`` moves story shots, so Qt views, undo
commands and drag and drop all change the one list the engine reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QImage

from storyboard.frame_loader import FrameLoader
from storyboard.memory import stale_reason
from storyboard.shot_status import shot_status
from storyboard.trim_points import cut_jumps, trim_words
from storymem_engine.cast import attached_rows
from storymem_engine.project import Project, file_stamp
from storymem_engine.request import profile_note
from storymem_engine.story import Shot

SHOT_MIME = "application/x-storymem-shot-ids"
THUMB_HEIGHT = 120

Index = QModelIndex | QPersistentModelIndex


class ShotRole(IntEnum):
    SHOT = Qt.ItemDataRole.UserRole + 1
    NUMBER = Qt.ItemDataRole.UserRole + 2
    STATUS = Qt.ItemDataRole.UserRole + 3
    THUMBNAIL = Qt.ItemDataRole.UserRole + 4
    SHOT_ID = Qt.ItemDataRole.UserRole + 5
    PROGRESS = Qt.ItemDataRole.UserRole + 6  # (fraction 0..1, "step 3/40 · ETA 2m") while generating
    CAST = Qt.ItemDataRole.UserRole + 7  # names of the cast members attached to the shot


class TimelineModel(QAbstractListModel):
    def __init__(self, project: Project, parent=None) -> None:
        super().__init__(parent)
        self.project = project
        self.memory_size = 10
        self.memory_sink = 3
        self.continuation = "mi2v"  # the project's: a continuing take made with the other LoRA is stale
        self.live_status: dict[str, str] = {}
        self.live_progress: dict[str, tuple[float, str]] = {}
        self._thumbs: dict[str, QImage | None] = {}  # "<clip path>|<mtime>|<in point>" -> thumbnail (None: undecodable)
        self._damaged: dict[str, str] = {}  # "<clip path>|<mtime>" -> why its first frame does not decode
        self._loading: set[str] = set()
        self.loader = FrameLoader(self)
        self.loader.image_ready.connect(self._thumbnail_ready)
        self.loader.image_failed.connect(self._thumbnail_failed)

    # ------------------------------------------------------------ access
    @property
    def shots(self) -> list[Shot]:
        return self.project.story.shots

    def set_project(self, project: Project) -> None:
        self.beginResetModel()
        self.project = project
        self.live_status.clear()
        self.live_progress.clear()
        self._thumbs.clear()
        self._damaged.clear()
        self._loading.clear()
        self.endResetModel()

    def shot_at(self, row: int) -> Shot:
        return self.shots[row]

    def row_of(self, shot_id: str) -> int:
        return self.project.story.shot_index(shot_id)

    def shot_ids(self) -> list[str]:
        return [shot.id for shot in self.shots]

    # ------------------------------------------------------------ Qt model API
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.shots)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.shots):
            return None
        row = index.row()
        shot = self.shots[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return shot.prompt
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"Shot {row + 1} · scene {shot.scene_num}\n{shot.prompt}"
            take = shot.accepted()
            if take is not None and take.trimmed:
                jump = cut_jumps(self.shots, row)
                tip += f"\nTrimmed: {trim_words(take)}" + (f"; {jump}" if jump else "")
            if take is not None and profile_note(take.request):
                tip += f"\n\nThe accepted take is a {profile_note(take.request)}: Generate > Finalize drafts makes it "\
                       "again at the final profile."
            if take is not None and self.clip_missing(take):
                return _wrap(f"{tip}\n\nMissing: the accepted take's clip {take.clip} is not in the project folder, or "
                             "is empty. Generate the shot again, or accept another take.")
            damaged = self.clip_damaged(take) if take is not None else ""
            if damaged:
                return _wrap(f"{tip}\n\nDamaged: the accepted take's clip {take.clip} cannot be decoded "
                             f"({damaged}). Generate the shot again, or accept another take.")
            reason = stale_reason(self.project.story, row, self.memory_size, self.memory_sink, self.continuation)
            return _wrap(f"{tip}\n\n{reason}" if reason else tip)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            # What a screen reader says of a card: the painted number, cut mark and badge, not the prompt alone.
            status = self.data(index, ShotRole.STATUS)
            cut = ", scene cut" if shot.cut else ""
            return (f"Shot {row + 1}, scene {shot.scene_num}{cut}, "
                    f"{'no take yet' if status == 'empty' else status}: {shot.prompt}")
        if role == ShotRole.SHOT:
            return shot
        if role == ShotRole.SHOT_ID:
            return shot.id
        if role == ShotRole.NUMBER:
            return row + 1
        if role == ShotRole.STATUS:
            return shot_status(self.project.story, row, self.live_status, self.memory_size, self.memory_sink,
                               clip_problem=self.clip_problem, continuation=self.continuation)
        if role == ShotRole.THUMBNAIL:
            return self._thumbnail(shot)
        if role == ShotRole.PROGRESS:
            return self.live_progress.get(shot.id)
        if role == ShotRole.CAST:
            story = self.project.story
            return [m.name for m in story.cast if row in attached_rows(story, m)] if story.cast else []
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsDropEnabled
        if not index.isValid():
            return base
        return base | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [SHOT_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        mime = QMimeData()
        mime.setData(SHOT_MIME, json.dumps([self.shots[r].id for r in rows]).encode())
        return mime

    def moveRows(
        self, source_parent: Index, source_row: int, count: int, dest_parent: Index, dest_child: int
    ) -> bool:
        n = len(self.shots)
        if source_parent.isValid() or dest_parent.isValid() or count < 1:
            return False
        if source_row < 0 or source_row + count > n or not 0 <= dest_child <= n:
            return False
        if source_row <= dest_child <= source_row + count:
            return False  # a no-op (or a move into itself): Qt refuses these too
        if not self.beginMoveRows(QModelIndex(), source_row, source_row + count - 1, QModelIndex(), dest_child):
            return False
        block = self.shots[source_row : source_row + count]
        del self.shots[source_row : source_row + count]
        insert_at = dest_child - count if dest_child > source_row else dest_child
        self.shots[insert_at:insert_at] = block
        self.endMoveRows()
        self.refresh_all()
        return True

    # ------------------------------------------------------------ edits used by undo commands
    def insert_shots(self, row: int, shots: Sequence[Shot]) -> None:
        """``shots`` together from ``row`` on (add, insert, duplicate, paste)."""
        if shots:
            self.insert_rows(list(enumerate(shots, start=row)))

    def remove_rows(self, rows: Sequence[int]) -> list[Shot]:
        """Remove shots at ``rows`` (any order), each run of neighbours in one change, and repaint once: deleting
        100 shots of a 1,000-shot story took 1-2 s as 100 single removals, each refreshing the window's panels."""
        removed: dict[int, Shot] = {}
        for first, last in reversed(_runs(sorted(set(rows)))):
            self.beginRemoveRows(QModelIndex(), first, last)
            removed.update(zip(range(first, last + 1), self.shots[first:last + 1], strict=True))
            del self.shots[first:last + 1]
            self.endRemoveRows()
        self.refresh_all()
        return [removed[row] for row in sorted(removed)]

    def insert_rows(self, placed: Sequence[tuple[int, Shot]]) -> None:
        """Put shots back at the rows they had (ascending: each row counted with the earlier ones in place), each
        run of neighbours in one change, and repaint once (the undo of remove_rows)."""
        placed = sorted(placed, key=lambda item: item[0])
        rows = [row for row, _shot in placed]
        by_row = dict(placed)
        for first, last in _runs(rows):
            self.beginInsertRows(QModelIndex(), first, last)
            self.shots[first:first] = [by_row[row] for row in range(first, last + 1)]
            self.endInsertRows()
        self.refresh_all()

    def set_order(self, shot_ids: Sequence[str]) -> None:
        """Reorder to exactly ``shot_ids`` in one layout change (persistent indexes and selection follow).

        O(n): one pass, not a moveRows per row; undo/redo of a drag in a 1,000-shot timeline stays
        within a frame.
        """
        target = list(shot_ids)
        current = self.shot_ids()
        if sorted(target) != sorted(current):
            raise ValueError("set_order needs exactly the timeline's shot ids")
        if target == current:
            return
        by_id = {shot.id: shot for shot in self.shots}
        new_row = {shot_id: row for row, shot_id in enumerate(target)}
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        self.shots[:] = [by_id[shot_id] for shot_id in target]
        self.changePersistentIndexList(old, [self.index(new_row[current[i.row()]]) if i.isValid() else i for i in old])
        # No refresh_all: views repaint every card after a layout change, and the window's panels follow
        # layoutChanged (MainWindow._structure_changed); a dataChanged too made them refresh twice per drop.
        self.layoutChanged.emit()

    def set_shot_field(self, shot_id: str, name: str, value: Any) -> None:
        self.set_shots_field(name, {shot_id: value})

    def set_shots_field(self, name: str, values: dict[str, Any]) -> None:
        """One field of one or several shots (shot id -> value), with one repaint: an edit of 1,000 selected shots
        took 4.5 s as 1,000 single-shot changes, each refreshing the window's panels."""
        rows = [self.row_of(shot_id) for shot_id in values]
        for row, value in zip(rows, values.values(), strict=True):
            setattr(self.shots[row], name, value)
        if name in ("accepted_take", "takes", "scene_num", "cut"):
            self.refresh_all()  # numbers, scene markers and staleness of other cards follow these
        elif rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def set_progress(self, shot_id: str, fraction: float, text: str) -> None:
        """Per-step progress on the generating card; repaints that card only (it arrives every step)."""
        self.live_progress[shot_id] = (max(0.0, min(fraction, 1.0)), text)
        index = self.index(self.row_of(shot_id))
        self.dataChanged.emit(index, index, [ShotRole.PROGRESS])

    def clip_missing(self, take) -> bool:
        """True when a take's clip is not on disk (one stat per painted card)."""
        return self.project is not None and self.project.file_missing(take.clip)

    def clip_damaged(self, take) -> str:
        """Why a take's clip cannot be decoded, once its thumbnail has tried ("" until then, or when it decodes).
        Keyed by the file's mtime: a clip written again is tried again."""
        if not self._damaged:  # the usual case: no second stat of the clip per painted card
            return ""
        found = self._clip_file(take)
        return self._damaged.get(found[0], "") if found is not None else ""

    def clip_problem(self, take) -> str:
        """ "missing", "damaged" or "": what the card's badge says instead of DONE."""
        if self.clip_missing(take):
            return "missing"
        return "damaged" if self.clip_damaged(take) else ""

    def in_queue(self, shot_id: str) -> bool:
        """The running queue has the shot still to make, or is making it."""
        return self.live_status.get(shot_id) in ("queued", "generating")

    def set_live_status(self, shot_id: str, status: str | None) -> None:
        if status != "generating":
            self.live_progress.pop(shot_id, None)
        if status is None:
            self.live_status.pop(shot_id, None)
        else:
            self.live_status[shot_id] = status
        self.refresh_all()

    def refresh_all(self) -> None:
        """Numbers, scene markers and staleness depend on the whole order: repaint every card."""
        if self.shots:
            self.dataChanged.emit(self.index(0), self.index(len(self.shots) - 1))

    # ------------------------------------------------------------ thumbnails
    def _clip_file(self, take) -> tuple[str, Path] | None:
        """("<clip path>|<mtime>|<in point>", path) for a take's clip; None when it names no file in the project."""
        if not take.clip:
            return None
        try:
            path: Path = self.project.resolve(take.clip)
        except (OSError, ValueError):
            return None
        stamp = file_stamp(path)  # one stat: every visible card asks on every repaint
        return f"{path}|{-1.0 if stamp is None else stamp}|{take.cut_range()[0]}", path

    def _thumbnail(self, shot: Shot) -> QImage | None:
        """The accepted clip's first frame on the cut (its in point); None (painted as text) until the loader has
        decoded it."""
        take = shot.accepted()
        found = self._clip_file(take) if take is not None else None
        if found is None:
            return None
        key, path = found
        if key in self._thumbs:
            return self._thumbs[key]
        if key not in self._loading:
            self._loading.add(key)
            self.loader.clip_thumbnail(key, path, THUMB_HEIGHT, take.frames, take.cut_range()[0])
        return None

    def _thumbnail_ready(self, key: str, image: QImage | None) -> None:
        self._loading.discard(key)
        self._thumbs[key] = image
        if self.shots:  # which cards show this clip is not tracked; repainting the visible ones is cheap
            roles = [ShotRole.THUMBNAIL]
            if key in self._damaged:  # the badge and tooltip change too, and the window's counts with them
                roles += [ShotRole.STATUS, Qt.ItemDataRole.ToolTipRole]
            self.dataChanged.emit(self.index(0), self.index(len(self.shots) - 1), roles)

    def _thumbnail_failed(self, key: str, reason: str) -> None:
        self._damaged[key] = reason


def _wrap(text: str, width: int = 80) -> str:
    """Plain-text tooltips do not wrap in Qt: break long lines so a long prompt or reason stays readable."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) if line else "" for line in text.split("\n"))


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of neighbours: [2, 3, 4, 7] -> [(2, 4), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
