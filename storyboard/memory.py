"""Which keyframes a shot is conditioned on, derived from the timeline (no Qt, no torch).

Memory is never stored as truth: for shot k it is the engine's ``select_memory`` (sink + window,
the story's pins and exclusions) over the keyframes of the accepted takes before k, keyed like
the engine's director (``"<take id>:<n>"``) so the keys match what a take's request recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate

from storymem_engine.cast import member_of_key
from storymem_engine.memory import Keyframe, cast_keyframes, select_memory, take_keyframes, take_of_key
from storymem_engine.shot_modes import ModeError, resolve_mode
from storymem_engine.story import Story

# (id(story), signature, whole bank, offsets): every painted card and the memory strip ask for a
# prefix of the same bank. Rebuilding it per call was ~2 ms near shot 850 of a 1,000-shot story, and a
# drop repaints 8-9 cards (bench/app_bench.py --parts drag).
_cache: tuple[int, list, list[Keyframe], list[int]] | None = None
_generation = 0  # counts rebuilds: equal generations mean the same bank
_frozen: int | None = None  # id(story) whose bank cannot change now (see bank_frozen)


def _signature(story: Story) -> list:
    # What the bank depends on: shot order and each shot's accepted take. A take's keyframes never
    # change after it is made; deleting a take changes the count (and usually the accepted id).
    return [(shot.id, shot.accepted_take, len(shot.takes)) for shot in story.shots]


def _whole_bank(story: Story) -> tuple[list[Keyframe], list[int]]:
    """Every keyframe of the story and, per shot index, how many of them come before that shot."""
    global _cache, _generation
    if _frozen == id(story) and _cache is not None and _cache[0] == _frozen:
        return _cache[2], _cache[3]
    signature = _signature(story)
    if _cache is not None and _cache[0] == id(story) and _cache[1] == signature:
        return _cache[2], _cache[3]
    # The engine's story_memory_bank, from per-take lists kept across rebuilds: a reorder rebuilds the
    # bank, and making ~2,000 Keyframe records again was most of a drop's time near the end of a long story.
    per_shot = [_keyframes_of(shot.id, take) if (take := shot.accepted()) is not None else [] for shot in story.shots]
    bank = [keyframe for keyframes in per_shot for keyframe in keyframes]
    offsets = [0, *accumulate(len(keyframes) for keyframes in per_shot)]
    _cache = (id(story), signature, bank, offsets)
    _generation += 1
    return bank, offsets


@contextmanager
def bank_frozen(story: Story) -> Iterator[None]:
    """While the block runs nothing can edit the story (a paint of the timeline): its bank is checked once, not
    once per painted card (the check walks every shot, ~0.2 ms in a 1,000-shot story)."""
    global _frozen
    _whole_bank(story)
    _frozen = id(story)
    try:
        yield
    finally:
        _frozen = None


def bank_generation(story: Story) -> int:
    """A number that changes whenever the story's keyframe bank (order or accepted takes) changes."""
    _whole_bank(story)
    return _generation


_by_take: dict[tuple[str, str, tuple[str, ...]], list[Keyframe]] = {}


def _keyframes_of(shot_id: str, take) -> list[Keyframe]:
    key = (shot_id, take.id, tuple(take.keyframes))
    keyframes = _by_take.get(key)
    if keyframes is None:
        if len(_by_take) > 100_000:  # projects opened one after another in a long session
            _by_take.clear()
        keyframes = _by_take[key] = take_keyframes(shot_id, take)
    return keyframes


def memory_bank(story: Story, index: int) -> list[Keyframe]:
    """Every keyframe available to shot ``index``, in story order (the engine's ``story_memory_bank``): the
    cast references attached to the shot first, then the keyframes of the accepted takes before it."""
    bank, offsets = _whole_bank(story)
    keyframes = bank[:offsets[min(index, len(offsets) - 1)]]
    return cast_keyframes(story, index) + keyframes if story.cast else keyframes


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


def prompt_changed(story: Story, index: int) -> bool:
    """True when the shot's prompt was edited after its accepted take was made."""
    take = story.shots[index].accepted()
    return take is not None and "prompt" in take.request and take.request["prompt"] != story.shots[index].prompt


def _memory_seen_and_now(story: Story, index: int, size: int, sink: int) -> tuple[list[str], list[str]] | None:
    """(keys the accepted take was conditioned on, keys the shot would get now); None when the take
    cannot go stale through memory (no take, or no recorded ``memory_keys``). A T2V first shot recorded none: a
    cast member attached to it since gives it memory, and it is made from the references then (MR2V)."""
    take = story.shots[index].accepted()
    if take is None or "memory_keys" not in take.request:
        return None
    seen = [str(k) for k in take.request.get("memory_keys") or []]
    return seen, [k.key for k in memory_for(story, index, size, sink)]


def memory_changed(story: Story, index: int, size: int = 10, sink: int = 3) -> bool:
    """True when the accepted take saw different memory keyframes than the shot would get now."""
    keys = _memory_seen_and_now(story, index, size, sink)
    return keys is not None and keys[0] != keys[1]


def continuation_changed(story: Story, index: int) -> bool:
    """True when a continuing take (MI2V/MM2V) started from frames that the shot before it no longer ends with:
    the shots were reordered, or the previous shot has a new accepted take."""
    take = story.shots[index].accepted()
    mode = take.request.get("mode") if take is not None else None
    if mode not in ("mi2v", "mm2v"):
        return False
    prev = story.shots[index - 1].accepted() if index > 0 else None
    if mode == "mi2v":
        return prev is None or take.request.get("first_frame") != prev.last_frame
    return prev is None or list(take.request.get("motion_frames") or []) != list(prev.motion_frames)


# A shot's own value -> the request field its accepted take recorded it in. Steps and guidance only for a final
# take: a draft runs the distilled LoRAs' own 4 steps without CFG, whatever the shot says.
_SHOT_VALUES = (("seed", "seed", "its seed"), ("frames", "num_frames", "its frame count"),
                ("steps", "steps", "its steps"), ("guidance", "guidance", "its guidance"))


def shot_edited(story: Story, index: int, continuation: str = "mi2v") -> list[str]:
    """What of the shot itself changed after its accepted take was made, in words: the mode it is generated in now
    (its continuation, its scene cut, the project's continuation) or its own seed, frame count, steps or guidance.

    The first shot's mode is left out: whether it starts from reference images (MR2V) can come from outside the
    project (render --reference), and a cast member attached to it already changes its memory."""
    shot = story.shots[index]
    take = shot.accepted()
    if take is None:
        return []
    made = take.request
    changes = []
    if index > 0 and "mode" in made:
        try:
            now = resolve_mode(story, index, continuation)
        except ModeError:
            now = None  # it cannot be generated as it stands: Generate says why
        if now is not None and now != made["mode"]:
            changes.append(f"it is {now.upper()} now, the take {str(made['mode']).upper()}")
    final = made.get("profile", "final") == "final"
    for attr, key, words in _SHOT_VALUES:
        value = getattr(shot, attr)
        if value is not None and key in made and made[key] != value and (final or attr in ("seed", "frames")):
            changes.append(words)
    return changes


def is_stale(story: Story, index: int, size: int = 10, sink: int = 3, continuation: str = "mi2v") -> bool:
    """True when the accepted take no longer matches the shot: its prompt, its memory, the frames it continues
    from, its mode or its own seed, frames, steps or guidance changed. The project's render settings (size, steps,
    ...) do not make a take stale: they say how new takes are made.

    Cheap enough to run for every painted card; the director's ``is_current`` (the whole request)
    decides what a "Regenerate stale shots" queue really redoes.
    """
    return (prompt_changed(story, index) or memory_changed(story, index, size, sink)
            or continuation_changed(story, index) or bool(shot_edited(story, index, continuation)))


def stale_reason(story: Story, index: int, size: int = 10, sink: int = 3, continuation: str = "mi2v") -> str:
    """Why shot ``index`` is stale, in the user's words ("" when it is not)."""
    keys = _memory_seen_and_now(story, index, size, sink)
    if keys is None or keys[0] == keys[1]:
        # Every cause, not the first: undoing the one named left the card stale for a reason never shown.
        causes = []
        if continuation_changed(story, index):
            if index == 0:
                causes.append("its take continued a shot before it, and it opens the story now")
            elif story.shots[index - 1].accepted() is None:  # a shot inserted before it, or a take deleted
                causes.append(f"it continues shot {index}, which has no take yet")
            else:
                causes.append(f"it continues shot {index}, which now ends differently (moved, or a new accepted "
                              "take) than the frames this take started from")
        if prompt_changed(story, index):
            causes.append("the prompt was edited after this take was made")
        edited = shot_edited(story, index, continuation)
        if edited:
            causes.append(f"the shot changed after this take was made ({'; '.join(edited)})")
        if not causes:
            return ""
        return f"Stale: {'; and '.join(causes)}. Generate > Regenerate stale shots redoes it."
    seen, now = keys
    owner: dict[str, tuple[int, bool]] = {}  # take id -> (shot number, accepted)
    for n, shot in enumerate(story.shots, start=1):
        for take in shot.takes:
            owner[take.id] = (n, take.id == shot.accepted_take)
    causes: list[str] = []

    def add(text: str) -> None:
        if text not in causes:
            causes.append(text)

    for key in seen:
        if key in now:
            continue
        if key.startswith("ref:"):
            found = member_of_key(story, key)
            add(f"the cast reference “{found[0].name}” is no longer in its memory" if found
                else "a cast reference it remembered was removed or replaced")
            continue
        shot_number, accepted = owner.get(take_of_key(key), (0, False))
        if key in story.memory_exclusions:
            add(f"a keyframe of shot {shot_number} was excluded")
        elif not shot_number:
            add("a take it remembered was deleted")
        elif not accepted:
            add(f"shot {shot_number} has a new accepted take")
        elif shot_number > index + 1:
            add(f"shot {shot_number} moved after it")
        else:
            add(f"a keyframe of shot {shot_number} dropped out of the memory window")
    for key in now:
        if key in seen:
            continue
        if key.startswith("ref:"):
            found = member_of_key(story, key)
            add(f"the cast reference “{found[0].name if found else '?'}” is new to its memory")
            continue
        shot_number = owner.get(take_of_key(key), (0, False))[0]
        if key in story.memory_pins:
            add(f"a keyframe of shot {shot_number} was pinned")
        else:
            add(f"shot {shot_number}'s keyframes are new to its memory")
    if not causes:
        add("the shots before it are in a different order")
    edited = " and its prompt was edited" if prompt_changed(story, index) else ""
    return (f"Stale: its memory changed{edited} since this take was made (" + "; ".join(causes)
            + "). Generate > Regenerate stale shots redoes it.")
