"""Memory bank policy: which keyframes condition the next shot.

StoryMem keeps keyframes in story order and, when more are available than the model takes
(it was trained with up to 10 memory images), keeps a "memory sink" of the first ``fix``
images (usually the first shot's keyframes, which anchor the characters' identity) plus the
newest ``max_size - fix``. The budget counts images, not shots (the reference README says
"shots"; its code counts images). Scene cuts do not reset memory.

On top of the reference policy the studio lets the user pin keyframes (always used) and
exclude keyframes (never used); pins spend the same budget the sink and window share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

DEFAULT_MAX_MEMORY_SIZE = 10
DEFAULT_MEMORY_FIX = 3


@dataclass(frozen=True)
class Keyframe:
    """One image in the memory bank.

    ``key`` identifies the keyframe across edits (pins and exclusions refer to it);
    ``path`` is where the PNG lives (project-relative in a project); ``frame_index`` is the
    frame of the shot's take it was extracted from.
    """

    key: str
    path: str
    shot_id: str
    frame_index: int


def _key_of(item: object) -> object:
    # Tests and callers may pass bare keys (ints, strings) or Keyframe-like objects.
    return getattr(item, "key", item)


def select_memory(
    keyframes: Sequence[T],
    max_size: int = DEFAULT_MAX_MEMORY_SIZE,
    fix: int = DEFAULT_MEMORY_FIX,
    pinned: Iterable[object] = (),
    excluded: Iterable[object] = (),
) -> list[T]:
    """The keyframes that condition the next shot, in story order.

    ``keyframes`` is every available keyframe in story order. ``pinned`` and ``excluded`` are
    keys (``item.key``, or the item itself when it has no ``key``). Exclusion wins over
    pinning. When the non-excluded keyframes fit in ``max_size`` they are all used; otherwise
    pinned ones are kept and the remaining budget goes to the first ``fix`` keyframes (memory
    sink, a pinned one among them counted once) plus the newest ones (window). If the budget left
    after pins is smaller than the sink, the sink takes all of it: the opening keyframes anchor
    identity. With no pins this is the reference's policy: the first ``fix`` plus the newest.

    Raises ValueError for a bad ``max_size``/``fix`` or when more keyframes are pinned than
    ``max_size`` allows (the model was not trained on longer memories, and silently
    dropping a pin would be worse than asking the user to unpin one).
    """
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"max memory size must be an integer >= 1, got {max_size!r}")
    if isinstance(fix, bool) or not isinstance(fix, int) or not 0 <= fix <= max_size:
        raise ValueError(f"memory sink size (fix) must be an integer in 0..{max_size}, got {fix!r}")

    excluded_keys = set(excluded)
    pinned_keys = set(pinned)
    # The editor runs this for every painted card over banks of thousands of keyframes: skip the
    # per-item passes when there are no exclusions or pins (the usual case).
    available = [item for item in keyframes if _key_of(item) not in excluded_keys] if excluded_keys else keyframes
    if len(available) <= max_size:
        return list(available)

    pinned_idx = [i for i, item in enumerate(available) if _key_of(item) in pinned_keys] if pinned_keys else []
    if len(pinned_idx) > max_size:
        raise ValueError(f"{len(pinned_idx)} keyframes are pinned but the memory holds at most {max_size}; unpin some")
    chosen = set(pinned_idx)
    # The sink is the first ``fix`` keyframes whether pinned or not: pinning one already in memory keeps the memory
    # as it was (a pin that moved the sink on pushed the oldest window keyframe out and made later shots stale).
    for i in range(fix):
        if len(chosen) >= max_size:
            break
        chosen.add(i)
    newest = len(available) - 1  # more keyframes than fit: the window always fills
    while len(chosen) < max_size:
        chosen.add(newest)
        newest -= 1
    return [available[i] for i in sorted(chosen)]


def story_memory_bank(story, index: int, references: Sequence[str] = ()) -> list[Keyframe]:
    """Every keyframe available to shot ``index`` of a Story, in story order.

    Memory is derived, never stored: the accepted takes of the shots before ``index``, after the reference
    images (``render --reference``, then the cast members attached to the shot: cast.py). Keys are
    ``"<take id>:<n>"`` (``"ref:..."`` for references) so pins, exclusions and a take's recorded request all
    name keyframes the same way.
    """
    bank = [Keyframe(key=f"ref:{i}", path=p, shot_id="", frame_index=i) for i, p in enumerate(references)]
    bank.extend(cast_keyframes(story, index))
    for shot in story.shots[:index]:
        take = shot.accepted()
        if take is not None:
            bank.extend(take_keyframes(shot.id, take))
    return bank


def cast_keyframes(story, index: int) -> list[Keyframe]:
    """The cast images attached to shot ``index``, as memory bank entries (first in the bank)."""
    from storymem_engine.cast import reference_key, references_for

    return [Keyframe(key=reference_key(member, image), path=image.path, shot_id="", frame_index=n)
            for n, (member, image) in enumerate(references_for(story, index))]


def take_of_key(key: str) -> str | None:
    """The take a memory key names ("<take id>:<frame>", as take_keyframes makes it); None for a cast image's."""
    return None if key.startswith("ref:") else key.partition(":")[0]


def take_keyframes(shot_id: str, take) -> list[Keyframe]:
    """The memory bank entries one accepted take contributes, in frame order."""
    return [Keyframe(key=f"{take.id}:{i}", path=rel, shot_id=shot_id, frame_index=i)
            for i, rel in enumerate(take.keyframes)]
