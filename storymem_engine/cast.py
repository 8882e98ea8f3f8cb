"""The cast: the user's own reference images (a character sheet, a location, a prop) in the memory bank.

A cast member has a name, one or more images copied into the project's ``references/`` folder, and the shots
it is attached to. An attached member's images join the memory bank of each of those shots before the
keyframes, keyed ``ref:<member id>:<image id>``: they take memory slots like keyframes (the same 10-image
budget, pins and exclusions), and being first they are what the memory sink keeps, as the authors' code
treats MR2V references (sorted ahead of every shot's keyframes). A member attached to the first shot makes
it MR2V: the first shot is generated from the references as memory, at the first reference's aspect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

# Where a member is attached: nowhere, a range of shots (from/to shot ids, "" = open end), or listed shots.
ATTACH_MODES = ("none", "range", "shots")
REFERENCES_DIR = "references"
MAX_CAST = 200
MAX_IMAGES_PER_MEMBER = 32


def new_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class CastImage:
    id: str
    path: str  # project-relative: references/<member id>/<image id>.<ext>


@dataclass
class CastMember:
    name: str
    id: str = field(default_factory=new_id)
    images: list[CastImage] = field(default_factory=list)
    attach: str = "range"  # ATTACH_MODES; a new member is attached to the whole story
    from_shot: str = ""
    to_shot: str = ""
    shots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "images": [{"id": i.id, "path": i.path} for i in self.images],
                "attach": self.attach, "from_shot": self.from_shot, "to_shot": self.to_shot,
                "shots": list(self.shots)}


def attached_rows(story, member: CastMember) -> set[int]:
    """The shot indices the member is attached to now (ranges follow the shots' current order; an anchor shot
    that was deleted leaves that end open)."""
    shots = story.shots
    if member.attach == "shots":
        wanted = set(member.shots)
        return {i for i, shot in enumerate(shots) if shot.id in wanted}
    if member.attach != "range" or not shots:
        return set()
    ids = [shot.id for shot in shots]
    first = ids.index(member.from_shot) if member.from_shot in ids else 0
    last = ids.index(member.to_shot) if member.to_shot in ids else len(ids) - 1
    return set(range(first, last + 1)) if first <= last else set()


def reference_key(member: CastMember, image: CastImage) -> str:
    return f"ref:{member.id}:{image.id}"


def references_for(story, index: int) -> list[tuple[CastMember, CastImage]]:
    """The cast images in shot ``index``'s memory bank, in cast order (members, then their images)."""
    found = []
    for member in story.cast:
        if index in attached_rows(story, member):
            found.extend((member, image) for image in member.images)
    return found


def member_of_key(story, key: str) -> tuple[CastMember, CastImage] | None:
    if not key.startswith("ref:"):
        return None
    for member in story.cast:
        for image in member.images:
            if reference_key(member, image) == key:
                return member, image
    return None


def describe_attachment(story, member: CastMember) -> str:
    """In words: "shots 2-5", "every shot", "shots 1, 4", "not attached"."""
    rows = sorted(attached_rows(story, member))
    if not rows:
        return "not attached"
    if member.attach == "range" and len(rows) == len(story.shots):
        return "every shot"
    if member.attach == "range":
        return f"shot {rows[0] + 1}" if len(rows) == 1 else f"shots {rows[0] + 1}–{rows[-1] + 1}"
    return ("shot " if len(rows) == 1 else "shots ") + ", ".join(str(r + 1) for r in rows)
