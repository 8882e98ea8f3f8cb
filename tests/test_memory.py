"""Memory bank policy: which keyframes condition the next shot."""

from __future__ import annotations

import dataclasses

import pytest

from storymem_engine.memory import Keyframe, select_memory


def test_under_or_at_the_limit_everything_is_used_in_story_order():
    assert select_memory(list(range(7)), max_size=10, fix=3) == list(range(7))
    assert select_memory(list(range(10)), max_size=10, fix=3) == list(range(10))
    assert select_memory([], max_size=10, fix=3) == []


def test_over_the_limit_keeps_memory_sink_plus_newest_window():
    # Reference example: 20 keyframes, memory of 10 with 3 sink images.
    assert select_memory(list(range(20)), max_size=10, fix=3) == [0, 1, 2, *range(13, 20)]
    # The CLI default of the reference (8) works the same way.
    assert select_memory(list(range(20)), max_size=8, fix=3) == [0, 1, 2, *range(15, 20)]


def test_fix_zero_is_a_pure_sliding_window_and_fix_equal_to_size_is_all_sink():
    assert select_memory(list(range(20)), max_size=5, fix=0) == list(range(15, 20))
    assert select_memory(list(range(20)), max_size=5, fix=5) == list(range(5))
    assert select_memory(list(range(20)), max_size=1, fix=1) == [0]


def test_budget_counts_images_not_shots():
    # Five shots with three keyframes each: 15 images, only 10 fit.
    bank = [Keyframe(f"s{s}k{k}", f"takes/s{s}_k{k}.png", f"s{s}", k * 20) for s in range(1, 6) for k in range(3)]
    chosen = select_memory(bank, max_size=10, fix=3)
    assert len(chosen) == 10
    keys = [kf.key for kf in chosen]
    # The whole first shot is the sink; the window is the newest 7 images, which splits shot 3.
    assert keys == ["s1k0", "s1k1", "s1k2", "s3k2", "s4k0", "s4k1", "s4k2", "s5k0", "s5k1", "s5k2"]


def test_pinned_keyframes_are_always_kept_and_spend_the_budget():
    chosen = select_memory(list(range(20)), max_size=10, fix=3, pinned={7})
    assert chosen == [0, 1, 2, 7, *range(14, 20)]
    assert len(chosen) == 10
    # Pinning a keyframe already in memory (in the sink or the window) changes nothing: the later shots stay current.
    unpinned = select_memory(list(range(20)), max_size=10, fix=3)
    for pin in (0, 2, 13, 19):
        assert select_memory(list(range(20)), max_size=10, fix=3, pinned={pin}) == unpinned
    # When pins leave less budget than the sink, the sink takes all of it.
    pins = {5, 6, 7, 8, 9, 10, 11, 12}
    assert select_memory(list(range(20)), max_size=10, fix=3, pinned=pins) == [0, 1, *sorted(pins)]


def test_excluded_keyframes_are_never_used():
    chosen = select_memory(list(range(20)), max_size=10, fix=3, excluded={0, 19})
    assert 0 not in chosen and 19 not in chosen
    assert chosen == [1, 2, 3, *range(12, 19)]
    # Exclusion can bring the bank under the limit: then everything else is used.
    assert select_memory(list(range(11)), max_size=10, fix=3, excluded={4}) == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]
    # Excluding wins over pinning.
    assert 7 not in select_memory(list(range(20)), max_size=10, fix=3, pinned={7}, excluded={7})


def test_pins_and_exclusions_match_keyframe_keys():
    bank = [Keyframe(f"k{i}", f"k{i}.png", f"shot{i // 3}", i) for i in range(20)]
    chosen = select_memory(bank, max_size=10, fix=3, pinned={"k7"}, excluded={"k19"})
    assert [kf.frame_index for kf in chosen] == [0, 1, 2, 7, *range(13, 19)]


def test_keyframe_is_immutable():
    kf = Keyframe("k", "takes/k.png", "shot-1", 40)
    with pytest.raises(dataclasses.FrozenInstanceError):
        kf.key = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_size": 0}, "max memory size"),
        ({"max_size": 10, "fix": -1}, "fix"),
        ({"max_size": 10, "fix": 11}, "fix"),
        ({"max_size": 2.5}, "max memory size"),
    ],
)
def test_invalid_settings_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_memory(list(range(20)), **kwargs)


def test_more_pins_than_the_memory_holds_is_an_error_not_a_silent_drop():
    with pytest.raises(ValueError, match="pinned"):
        select_memory(list(range(20)), max_size=3, fix=1, pinned={1, 5, 9, 13})


def test_the_editors_cached_bank_follows_every_edit_of_the_same_story():
    """Cards and the memory strip read the bank through a cache: a reorder, a new accepted take or a
    deleted take must show at once, exactly as the engine's director would compute it."""
    from storyboard.memory import memory_bank, memory_for
    from storymem_engine.memory import story_memory_bank
    from storymem_engine.story import Shot, Story, Take

    story = Story(name="cache", shots=[Shot(prompt=f"shot {i}", id=f"s{i}") for i in range(6)])
    for i, shot in enumerate(story.shots[:5]):
        shot.add_take(Take(id=f"t{i}", request={}, clip="", keyframes=[f"t{i}/k{n}.png" for n in range(3)]))
        shot.accepted_take = f"t{i}"

    def same_as_the_engine() -> None:
        for i in range(len(story.shots) + 1):
            assert memory_bank(story, i) == story_memory_bank(story, i)
            assert memory_for(story, i, 4, 1) == select_memory(story_memory_bank(story, i), 4, 1)

    same_as_the_engine()
    story.shots.insert(0, story.shots.pop(3))  # a reorder
    same_as_the_engine()
    story.shots[1].add_take(Take(id="new", request={}, clip="", keyframes=["new/k0.png"]))
    story.shots[1].accepted_take = "new"  # a new accepted take
    same_as_the_engine()
    story.shots[2].takes.clear()  # its accepted take deleted (the id stays behind)
    same_as_the_engine()
    story.memory_exclusions.append("t4:0")
    assert "t4:0" not in [k.key for k in memory_for(story, 6, 20, 1)]


def test_a_stale_shot_names_every_cause_and_a_take_less_shot_before_it_as_such():
    from storyboard.memory import stale_reason
    from storymem_engine.story import Shot, Story, Take

    made = Take(id="ta", request={"mode": "t2v"}, clip="a.mp4", last_frame="a.png")
    first = Shot(id="a", prompt="the queen", cut=True, takes=[made], accepted_take="ta")
    continued = Take(id="tb", clip="b.mp4", request={"mode": "mi2v", "prompt": "she turns", "first_frame": "a.png"})
    second = Shot(id="b", prompt="she turns, edited", cut=False, takes=[continued], accepted_take="tb")
    story = Story(name="s", shots=[first, second])
    assert stale_reason(story, 1) == ("Stale: the prompt was edited after this take was made. Generate > Regenerate "
                                      "stale shots redoes it.")
    story.shots.insert(1, Shot(id="new", prompt="a shot inserted before it", cut=False))
    # Both causes: undoing the prompt edit alone must not leave a card stale for a reason it never showed.
    assert stale_reason(story, 2) == ("Stale: it continues shot 2, which has no take yet; and the prompt was edited "
                                      "after this take was made. Generate > Regenerate stale shots redoes it.")
