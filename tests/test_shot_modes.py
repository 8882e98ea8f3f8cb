"""Which shots a queue needs first: a shot that continues the previous one (MI2V, MM2V) starts from its take."""

from storymem_engine.shot_modes import unmade_continued
from storymem_engine.story import Shot, Story, Take


def _story(cuts: list[bool], made: set[int]) -> Story:
    shots = [Shot(prompt=f"shot {n + 1}", cut=cut, scene_num=1) for n, cut in enumerate(cuts)]
    for n in made:
        shots[n].add_take(Take(id=f"t{n}", request={}, clip=f"takes/{n}/clip.mp4", frames=9))
        shots[n].accepted_take = f"t{n}"
    return Story(name="s", shots=shots)


def test_a_continuing_shot_needs_the_chain_back_to_a_cut_or_a_take():
    # Shots 1-6: cuts at 1 and 4; only shot 1 has a take.
    story = _story([True, False, False, True, False, False], made={0})
    assert unmade_continued(story, [5], "mi2v") == {5: [3, 4]}  # back to the cut at shot 4
    assert unmade_continued(story, [2], "mm2v") == {2: [1]}  # shot 1 has a take
    assert unmade_continued(story, [4, 5], "mi2v") == {4: [3]}  # shot 6's shot 5 is in the queue
    assert unmade_continued(story, [2, 5], "mi2v") == {2: [1], 5: [3, 4]}
    assert unmade_continued(story, [0, 1, 2, 3], "mi2v") == {}  # in story order, each made before the next
    assert unmade_continued(story, [3], "mi2v") == {}  # a cut starts fresh (M2V)


def test_a_shot_set_to_start_fresh_or_that_cannot_run_needs_nothing_before_it():
    story = _story([True, False, False], made=set())
    story.shots[2].mode = "m2v"
    assert unmade_continued(story, [2], "mi2v") == {}
    story.shots[2].mode = "mm2v"  # not this project's continuation: the director says why, not this
    assert unmade_continued(story, [2], "mi2v") == {}
    assert unmade_continued(story, [2], "mm2v") == {2: [0, 1]}
