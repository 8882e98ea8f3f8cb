"""Takes that another writer recorded in project.json while the editor had the project open (a `main.py render` in
a terminal, or a second window), so that a Save folds them in instead of writing over them. Qt-free.

A take counts as the editor's own when it was in the project as opened or came from the editor's Generate: one the
user deleted since is gone on purpose, and is not brought back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from storymem_engine.story import Story, Take


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
