"""Cast edits from the Cast panel as undoable commands: add members and images (checked, copied into the
project's references/), rename, attach to shots, remove."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard import dialogs
from storyboard.attach_dialog import AttachDialog
from storyboard.undo_commands import SetCastCommand
from storymem_engine.cast import MAX_IMAGES_PER_MEMBER, CastMember
from storymem_engine.reference_images import ReferenceImageError, copy_into_project
from storymem_engine.words import counted

if TYPE_CHECKING:
    from storyboard.main_window import MainWindow

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"


class CastController:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        panel = window.cast_panel
        panel.add_member_requested.connect(self.add_member)
        panel.add_images_requested.connect(self.add_images)
        panel.files_dropped.connect(self.add_files)
        panel.rename_requested.connect(self.rename)
        panel.attach_requested.connect(self.attach)
        panel.remove_requested.connect(self.remove)
        panel.replace_images_requested.connect(self.replace_images)
        panel.remove_image_requested.connect(self.remove_image)

    @property
    def story(self):
        return self.window.project.story

    def _member(self, member_id: str) -> CastMember | None:
        return next((m for m in self.story.cast if m.id == member_id), None)

    def _push(self, cast: list[CastMember], text: str) -> None:
        self.window.undo_stack.push(SetCastCommand(self.story, cast, text, self.window.cast_changed))

    # ------------------------------------------------------------ adding images
    def add_member(self) -> bool:
        paths = dialogs.open_files(self.window, "Add cast member: choose its images", IMAGE_FILTER,
                                   self.window.dialog_start(inside_project=False))
        return self.add_files(paths, "") if paths else False

    def add_images(self, member_id: str) -> bool:
        paths = dialogs.open_files(self.window, "Add images to the cast member", IMAGE_FILTER,
                                   self.window.dialog_start(inside_project=False))
        return self.add_files(paths, member_id) if paths else False

    def replace_images(self, member_id: str) -> bool:
        paths = dialogs.open_files(self.window, "Replace the member's images", IMAGE_FILTER,
                                   self.window.dialog_start(inside_project=False))
        return self.add_files(paths, member_id, replace=True) if paths else False

    def add_files(self, paths: list[str], member_id: str = "", replace: bool = False, name: str = "") -> bool:
        """Check and copy the images into the project; a new member ("", called ``name`` or after the first
        file) or an existing one gets those that are usable; the others are named with the reason. Nothing is
        added when none is usable."""
        if not paths:
            return False
        window = self.window
        if window.project_path is None and not window.files.place_unsaved():
            return False  # the images need a project folder to be copied into
        cast = copy.deepcopy(self.story.cast)
        member = next((m for m in cast if m.id == member_id), None)
        new = member is None
        if new:
            member = CastMember(name=name or Path(paths[0]).stem.replace("_", " ").strip() or "Cast member")
        kept = member.images
        if replace:
            member.images = []
        problems = []
        for path in paths:
            if len(member.images) >= MAX_IMAGES_PER_MEMBER:
                problems.append(f"{Path(path).name}: a member holds at most {MAX_IMAGES_PER_MEMBER} images")
                continue
            try:
                member.images.append(copy_into_project(window.project.folder, member, Path(path)))
            except ReferenceImageError as exc:
                problems.append(str(exc))
            except OSError as exc:
                problems.append(f"{Path(path).name}: could not be copied into the project ({exc.strerror or exc})")
        added = len(paths) - len(problems)
        if problems:
            dialogs.warning(window, "Some images were not added" if added else "No image was added",
                            "\n".join(problems[:12]) + (f"\n… and {len(problems) - 12} more" if len(problems) > 12
                                                         else ""))
        if not added:
            member.images = kept
            return False
        if new:
            cast.append(member)
        self._push(cast, f"Add cast member “{member.name}”" if new else
                   f"Replace the images of “{member.name}”" if replace else f"Add images to “{member.name}”")
        window.cast_panel.select_member(member.id)  # its buttons (Add images, Attach, Remove) ready at once
        window.statusBar().showMessage(
            f"{counted(added, 'image')} added to “{member.name}” (attached to every shot: double-click it to change)"
            if new else f"{counted(added, 'image')} added to “{member.name}”", 8000)
        return True

    # ------------------------------------------------------------ other edits
    def rename(self, member_id: str, name: str) -> bool:
        member = self._member(member_id)
        if member is None or member.name == name:
            return False
        cast = copy.deepcopy(self.story.cast)
        next(m for m in cast if m.id == member_id).name = name
        self._push(cast, f"Rename cast member to “{name}”")
        return True

    def attach(self, member_id: str) -> bool:
        member = self._member(member_id)
        if member is None:
            return False
        dialog = AttachDialog(self.story, member, self.window)
        if not dialog.exec():
            return False
        return self.set_attachment(member_id, **dialog.values())

    def set_attachment(self, member_id: str, attach: str, from_shot: str, to_shot: str, shots: list[str]) -> bool:
        cast = copy.deepcopy(self.story.cast)
        member = next((m for m in cast if m.id == member_id), None)
        if member is None:
            return False
        before = (member.attach, member.from_shot, member.to_shot, member.shots)
        member.attach, member.from_shot, member.to_shot, member.shots = attach, from_shot, to_shot, list(shots)
        if before == (attach, from_shot, to_shot, list(shots)):
            return False
        self._push(cast, f"Attach “{member.name}”")
        return True

    def remove_image(self, member_id: str, image_id: str) -> bool:
        cast = copy.deepcopy(self.story.cast)
        member = next((m for m in cast if m.id == member_id), None)
        if member is None or len(member.images) < 2 or all(i.id != image_id for i in member.images):
            return False
        member.images = [i for i in member.images if i.id != image_id]
        self._push(cast, f"Remove an image of “{member.name}”")
        return True

    def remove(self, member_id: str) -> bool:
        member = self._member(member_id)
        if member is None:
            return False
        self._push([m for m in copy.deepcopy(self.story.cast) if m.id != member_id],
                   f"Remove cast member “{member.name}”")
        self.window.statusBar().showMessage(f"Removed “{member.name}” (Edit > Undo brings it back)", 8000)
        return True
