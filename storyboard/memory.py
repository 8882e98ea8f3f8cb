"""Which keyframes a shot is conditioned on, derived from the timeline (no Qt, no torch).

Memory is never stored as truth: for shot k it is the engine's ``select_memory`` (sink + window,
the story's pins and exclusions) over the keyframes of the accepted takes before k, keyed like
the engine's director (``"<take id>:<n>"``) so the keys match what a take's request recorded.
"""

from __future__ import annotations

from storymem_engine.memory import Keyframe, select_memory, story_memory_bank
from storymem_engine.story import Story


def memory_bank(story: Story, index: int) -> list[Keyframe]:
    """Every keyframe available to shot ``index``, in story order."""
    return story_memory_bank(story, index)


def memory_for(story: Story, index: int, size: int = 10, sink: int = 3) -> list[Keyframe]:
    """The keyframes shot ``index`` is conditioned on now (oldest first); [] when the pins do not fit."""
    try:
        return select_memory(memory_bank(story, index), size, min(sink, size),
                             pinned=story.memory_pins, excluded=story.memory_exclusions)
    except ValueError:
        return []


def memory_keyframes(story: Story, index: int, size: int = 10, sink: int = 3) -> list[str]:
    """Project-relative keyframe paths shot ``index`` is conditioned on."""
    return [k.path for k in memory_for(story, index, size, sink)]


def is_stale(story: Story, index: int, size: int = 10, sink: int = 3) -> bool:
    """True when the accepted take saw different memory keyframes than the shot would get now.

    A take whose request did not record ``memory_keys`` (or a T2V take, which uses no memory)
    cannot go stale through memory.
    """
    take = story.shots[index].accepted()
    if take is None or "memory_keys" not in take.request or take.request.get("mode") == "t2v":
        return False
    seen = [str(k) for k in take.request.get("memory_keys") or []]
    return seen != [k.key for k in memory_for(story, index, size, sink)]
