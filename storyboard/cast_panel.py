"""The Cast panel: the user's reference images (a character sheet, a location, a prop) as named cast members.

It only shows the story's cast and asks for changes through signals; the window's CastController turns them
into undoable commands. Images can be dropped on it from the file manager (on a member: added to it; on the
empty area: a new member). Thumbnails decode off the UI thread (FrameLoader), as everywhere else.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
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
from storyboard.elided_label import ElidedLabel
from storyboard.file_drops import local_files, may_be_images
from storyboard.frame_loader import FrameLoader
from storyboard.note_label import NOTE_STYLE
from storyboard.theme import show_keyboard_focus
from storymem_engine.cast import CastMember, describe_attachment
from storymem_engine.project import Project, file_stamp
from storymem_engine.words import counted

THUMB = QSize(120, 90)
MEMBER_ROLE = Qt.ItemDataRole.UserRole + 1


def member_icon(images: list[QImage | None], missing: bool, unreadable: bool = False) -> QIcon:
    """Up to three of the member's images side by side (a character sheet reads front/side/back); "missing" or
    "unreadable" (a file that is there but does not decode) in red over them when one of them is."""
    canvas = QPixmap(THUMB)
    canvas.fill(QColor("#111113"))
    painter = QPainter(canvas)
    shown = [i for i in images[:3] if i is not None and not i.isNull()]
    if shown:
        width = THUMB.width() // len(shown)
        for n, image in enumerate(shown):
            scaled = image.scaled(QSize(width - 2, THUMB.height()), Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
            painter.drawImage(n * width + (width - scaled.width()) // 2, (THUMB.height() - scaled.height()) // 2,
                              scaled)
    if missing or unreadable or not shown:
        if shown:  # the word goes over the images that did load: on a dark band, readable over any colour
            painter.fillRect(canvas.rect().adjusted(0, THUMB.height() // 2 - 11, 0, -(THUMB.height() // 2 - 11)),
                             QColor(0, 0, 0, 190))
        painter.setPen(QColor("#f87171") if missing or unreadable else QColor("#71717a"))
        painter.drawText(canvas.rect(), Qt.AlignmentFlag.AlignCenter,
                         "missing" if missing else "unreadable" if unreadable else "no image")
    painter.setPen(QColor("#a78bfa"))
    painter.drawRect(canvas.rect().adjusted(0, 0, -1, -1))
    painter.end()
    return QIcon(canvas)


class CastPanel(QGroupBox):
    add_member_requested = Signal()  # ask for images, make a member of them
    add_images_requested = Signal(str)  # member id
    files_dropped = Signal(list, str)  # paths, member id ("" = a new member)
    rename_requested = Signal(str, str)  # member id, new name
    attach_requested = Signal(str)  # member id
    remove_requested = Signal(str)  # member id
    replace_images_requested = Signal(str)  # member id: choose new images for it
    remove_image_requested = Signal(str, str)  # member id, image id

    def __init__(self, parent=None) -> None:
        super().__init__("Cast", parent)
        self.setObjectName("cast")
        self.setAcceptDrops(True)
        self.list = QListWidget()
        self.list.setObjectName("cast_list")
        self.list.setAccessibleName("Cast")
        show_keyboard_focus(self.list)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(THUMB)
        self.list.setSpacing(6)
        self.list.setMinimumHeight(THUMB.height() + 70)
        self.list.setAcceptDrops(False)  # the panel takes the drop (and finds the member under it)
        self.list.itemChanged.connect(self._renamed)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.setEditTriggers(QListWidget.EditTrigger.EditKeyPressed)
        self.list.itemDoubleClicked.connect(lambda item: self.attach_requested.emit(item.data(MEMBER_ROLE)))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(NOTE_STYLE)
        # Elided: a long member name in one line set the panel's minimum width (past a 1280-px window's edge).
        self.selection_note = ElidedLabel()
        self.selection_note.setObjectName("cast_selection")
        self.selection_note.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.add_button = QPushButton("Add member…")
        self.add_button.setToolTip("Images of one character, place or prop (front, side, back...): they join the "
                                   "memory of the shots it is attached to.\nYou can also drop image files here.")
        self.add_images_button = QPushButton("Add images…")
        self.attach_button = QPushButton("Attach to shots…")
        self.attach_button.setToolTip("Which shots carry this member's images in their memory (all, a range, or "
                                      "listed shots).\nOn the first shot it makes it MR2V: generated from the "
                                      "references.")
        self.remove_button = QPushButton("Remove")
        self.add_button.clicked.connect(self.add_member_requested)
        self.add_images_button.clicked.connect(lambda: self._emit_selected(self.add_images_requested))
        self.attach_button.clicked.connect(lambda: self._emit_selected(self.attach_requested))
        self.remove_button.clicked.connect(lambda: self._emit_selected(self.remove_requested))
        self.buttons = ButtonRows([(self.add_button, 0), (self.add_images_button, 0)],
                                  [(self.attach_button, 0), (self.remove_button, 0), (self.selection_note, 1)])
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        layout.addLayout(self.buttons)
        self.loader = FrameLoader(self)
        self.loader.image_ready.connect(self._image_ready)
        self._images: dict[str, QImage | None] = {}  # path -> image; None while it decodes, or when it cannot
        self._pending: set[str] = set()
        self._project: Project | None = None
        self._signature: tuple | None = None
        self._update_buttons()

    # ------------------------------------------------------------ showing
    def set_narrow(self, narrow: bool) -> None:
        """In a column beside the preview: members wrap into rows, the buttons into two rows."""
        self.buttons.set_narrow(narrow)
        self.list.setWrapping(narrow)

    def show_cast(self, project: Project | None) -> None:
        """Refill from the story's cast; a no-op when nothing shown changed (keeps the selection)."""
        story = project.story if project is not None else None
        cast = story.cast if story is not None else []
        signature = (id(project), tuple((m.id, m.name, tuple(i.path for i in m.images), describe_attachment(story, m))
                                        for m in cast))
        if signature == self._signature:
            return
        self._signature = signature
        self._project = project
        selected = self.selected_member()
        self.list.blockSignals(True)
        self.list.clear()
        for member in cast:
            item = QListWidgetItem(member.name)
            item.setData(MEMBER_ROLE, member.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self._set_icon(item, member)
            self.list.addItem(item)
            item.setSelected(member.id == selected)
        self.list.blockSignals(False)
        self.note.setText(
            "Reference images of your characters, places and props: each member's images lead the memory of "
            "the shots it is attached to, and take memory slots like keyframes. Drop images here, "
            "double-click a member to attach it." if not cast else
            f"{len(cast)} member{'s' if len(cast) != 1 else ''}. Double-click a member to attach it to shots; "
            "F2 renames the selected one.")
        self._update_buttons()

    def _tooltip(self, member: CastMember) -> str:
        story = self._project.story
        return (f"{member.name}: {counted(len(member.images), 'image')}, {describe_attachment(story, member)}\n"
                + "\n".join(i.path for i in member.images))

    def _set_icon(self, item: QListWidgetItem, member: CastMember) -> None:
        images, missing, unreadable = [], False, False
        for image in member.images[:3]:
            try:
                path = self._project.resolve(image.path)
            except (OSError, ValueError):
                missing = True
                continue
            stamp = file_stamp(path)
            if stamp is None:
                missing = True
                continue
            key = f"{path}|{stamp}"  # an image written over since is decoded again
            if key in self._images:
                images.append(self._images[key])
                unreadable = unreadable or (self._images[key] is None and key not in self._pending)
            else:
                self._images[key] = None
                self._pending.add(key)
                self.loader.image(key, path, THUMB)
        item.setIcon(member_icon(images, missing, unreadable))
        trouble = ("\nAn image is missing from the project folder: add it again, or remove the member." if missing else
                   "\nAn image cannot be read (damaged or cut off): add it again, or remove the member."
                   if unreadable else "")
        item.setToolTip(self._tooltip(member) + trouble)

    def _image_ready(self, key: str, image: QImage | None) -> None:
        self._images[key] = image
        self._pending.discard(key)
        if self._project is None:
            return
        members = {m.id: m for m in self._project.story.cast}
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            member = members.get(item.data(MEMBER_ROLE))
            if member is not None:
                self._set_icon(item, member)
        self.list.blockSignals(False)

    # ------------------------------------------------------------ asking
    def select_member(self, member_id: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(MEMBER_ROLE) == member_id:
                self.list.setCurrentItem(item)
                return

    def selected_member(self) -> str:
        items = self.list.selectedItems()
        return items[0].data(MEMBER_ROLE) if items else ""

    def _emit_selected(self, signal) -> None:
        member = self.selected_member()
        if member:
            signal.emit(member)

    def _renamed(self, item: QListWidgetItem) -> None:
        name = item.text().strip()
        if name:
            self.rename_requested.emit(item.data(MEMBER_ROLE), name)
            return
        # A blank name is no name: the member keeps its own, shown again (the label stayed empty).
        member = next((m for m in self._project.story.cast if m.id == item.data(MEMBER_ROLE)), None) \
            if self._project is not None else None
        if member is not None:
            self.list.blockSignals(True)
            item.setText(member.name)
            self.list.blockSignals(False)

    def _update_buttons(self) -> None:
        member_id = self.selected_member()
        for button in (self.add_images_button, self.attach_button, self.remove_button):
            button.setEnabled(bool(member_id))
        member = next((m for m in self._project.story.cast if m.id == member_id), None) if self._project else None
        where = describe_attachment(self._project.story, member) if member is not None else ""
        attached = where if where == "not attached" else f"attached to {where}"
        self.selection_note.setText(f"{member.name}: {counted(len(member.images), 'image')}, {attached}"
                                    if member is not None else "")

    def _context_menu(self, at) -> None:
        item = self.list.itemAt(at)
        if item is None or self._project is None:
            return
        member_id = item.data(MEMBER_ROLE)
        member = next((m for m in self._project.story.cast if m.id == member_id), None)
        if member is None:
            return
        menu = QMenu(self)
        menu.addAction("Attach to shots…", lambda: self.attach_requested.emit(member_id))
        menu.addAction("Add images…", lambda: self.add_images_requested.emit(member_id))
        menu.addAction("Replace images…", lambda: self.replace_images_requested.emit(member_id))
        remove_one = menu.addMenu("Remove image")
        for image in member.images:
            remove_one.addAction(Path(image.path).name,
                                 lambda image_id=image.id: self.remove_image_requested.emit(member_id, image_id))
        remove_one.setEnabled(len(member.images) > 1)  # a member keeps at least one image: Remove drops it
        menu.addAction("Rename", lambda: self.list.editItem(item))
        menu.addSeparator()
        menu.addAction("Remove member", lambda: self.remove_requested.emit(member_id))
        menu.exec(self.list.viewport().mapToGlobal(at))
        menu.deleteLater()  # built per right-click as a child of the panel

    # ------------------------------------------------------------ drops from the file manager
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if may_be_images(local_files(event.mimeData())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)  # the same files for as long as the drag lasts

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_files(event.mimeData())
        if not may_be_images(paths):
            event.ignore()
            return
        at = self.list.viewport().mapFrom(self, event.position().toPoint())
        item = self.list.itemAt(at)
        self.files_dropped.emit([str(p) for p in paths], item.data(MEMBER_ROLE) if item is not None else "")
        event.acceptProposedAction()
