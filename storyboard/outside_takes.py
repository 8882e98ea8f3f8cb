"""Takes that another writer recorded in project.json while the editor had the project open (a `main.py render` in
a terminal, or a second window), so that a Save folds them in instead of writing over them. Qt-free.

A take counts as the editor's own when it was in the project as opened or came from the editor's Generate: one the
user deleted since is gone on purpose, and is not brought back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from storyboard.shot_fields import first_words
from storymem_engine.project import TAKES_DIR
from storymem_engine.story import Shot, Story, Take


@dataclass
class OutsideTake:
    shot_id: str
    take: Take
    accepted: bool  # the other writer accepted it (a render accepts each take it makes)


def take_keys(story: Story) -> set[tuple[str, str]]:
    return {(shot.id, take.id) for shot in story.shots for take in shot.takes}


def takes_recorded_outside(on_disk: Story, live: Story, known: Iterable[tuple[str, str]]) -> list[OutsideTake]:
    """The takes in ``on_disk`` the editor never had, for shots the editor still has (a shot deleted in the editor
    stays deleted: its takes' files stay in takes/)."""
    known = set(known)
    shots = {shot.id for shot in live.shots}
    return [OutsideTake(shot.id, take, shot.accepted_take == take.id)
            for shot in on_disk.shots if shot.id in shots
            for take in shot.takes if (shot.id, take.id) not in known]


def takes_for_deleted_shots(on_disk: Story, live: Story, known: Iterable[tuple[str, str]]) -> list[tuple[Shot, Take]]:
    """The takes in ``on_disk`` the editor never had, for shots deleted in the editor: not folded in (the shot stays
    deleted), but worth telling, as each cost a render's time and its files stay in takes/."""
    known = set(known)
    shots = {shot.id for shot in live.shots}
    return [(shot, take) for shot in on_disk.shots if shot.id not in shots
            for take in shot.takes if (shot.id, take.id) not in known]


def deleted_shot_words(found: list[tuple[Shot, Take]], saving: bool = False) -> str:
    """'1 take a render made for a shot deleted here ("Medium shot: Mara …") is not in the project (…)'; "" for
    none. ``saving``: said by the save that now leaves them out of project.json."""
    if not found:
        return ""
    shots = list({shot.id: shot for shot, _take in found}.values())
    quoted = ", ".join(f'"{first_words(shot.prompt, 6)}"' for shot in shots[:3]) + (", …" if len(shots) > 3 else "")
    folders = ", ".join(f"{TAKES_DIR}/{shot.id}/" for shot in shots[:3]) + (", …" if len(shots) > 3 else "")
    count = f"{len(found)} take{'s' * (len(found) != 1)}"
    verb = "is" if len(found) == 1 else "are"
    what = f"{count} a render made for {'a shot' if len(shots) == 1 else f'{len(shots)} shots'} deleted here ({quoted})"
    if saving:
        return f"{what} {verb} left out of the project; the files stay in {folders}"
    return (f"{what} {verb} not in the project: undo the delete before saving to keep "
            f"{'it' if len(found) == 1 else 'them'}; the files stay in {folders}")
