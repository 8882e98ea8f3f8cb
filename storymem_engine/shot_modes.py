"""Which mode a shot is generated in (T2V, M2V, MI2V, MM2V): its own choice, else its scene cut and the project's
continuation. The director builds requests with it and the editor marks a take made in another mode stale, so the
two never disagree. No torch here: the editor imports it."""

from __future__ import annotations

from storymem_engine.memory import cast_keyframes


class ModeError(ValueError):
    """The shot cannot be generated in the mode it asks for; the message says why and what to change."""


def continuation_mismatch(shot: str, mode: str, loaded: str) -> str:
    """Why a shot set to one continuation cannot run with the other's LoRA, and the two ways out."""
    return (f"{shot} is set to {mode.upper()}, which needs the {mode.upper()} StoryMem LoRA, and this project "
            f"continues with {loaded.upper()}: set Generate > Render settings > Continuation to {mode.upper()} (render "
            f"--continuation {mode}), or set the shot's continuation to auto")


def resolve_mode(story, index: int, continuation: str, first_shot: str = "t2v", references: bool = False) -> str:
    """The mode shot ``index`` is generated in. The first shot: T2V, or M2V from reference images (render
    --reference, or a cast member attached to it: MR2V). A later one: its own mode, else M2V after a scene cut and
    the project's continuation (MI2V or MM2V, one StoryMem LoRA per story) otherwise."""
    shot = story.shots[index]
    if index == 0:
        has_references = references or bool(cast_keyframes(story, 0))
        first = "m2v" if has_references else first_shot
        if first == "m2v" and not has_references:
            raise ModeError("the first shot in M2V mode (MR2V) needs reference images")
        if shot.mode in ("auto", "t2v", "m2v"):
            return first if shot.mode == "auto" else shot.mode
        raise ModeError(f"shot 1 cannot use {shot.mode.upper()}: there is no earlier shot to continue")
    if shot.mode in ("mi2v", "mm2v") and shot.mode != continuation:
        raise ModeError(continuation_mismatch(f"shot {index + 1}", shot.mode, continuation))
    if shot.mode != "auto":
        return shot.mode
    return "m2v" if shot.cut else continuation


def unmade_continued(story, queued: list[int], continuation: str) -> dict[int, list[int]]:
    """For each queued shot that continues the previous one (MI2V, MM2V) from a shot with no accepted take that is
    not queued before it: the shots to generate first, the chain back to one that starts fresh (a cut, the first
    shot) or has a take. {queued index: [earlier indices]}, empty when the queue can run as it is."""
    planned = set(queued)
    needed: dict[int, list[int]] = {}
    for index in sorted(queued):
        chain: list[int] = []
        shot = index
        while shot > 0 and _continues(story, shot, continuation):
            previous = shot - 1
            if previous in planned or story.shots[previous].accepted() is not None:
                break
            chain.append(previous)
            shot = previous
        if chain:
            needed[index] = sorted(chain)
            planned.update(chain)
    return needed


def _continues(story, index: int, continuation: str) -> bool:
    try:
        return resolve_mode(story, index, continuation) in ("mi2v", "mm2v")
    except ModeError:
        return False  # the director says why it cannot run; that is not a missing earlier take
