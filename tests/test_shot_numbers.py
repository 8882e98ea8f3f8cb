"""Shot numbers in words (status lines, undo steps, dialogs): every shot named once, or a count."""

from hypothesis import given
from hypothesis import strategies as st

from storyboard.shot_numbers import MAX_PARTS, shots_in_words


def test_runs_read_as_ranges():
    assert shots_in_words([2]) == "shot 3"
    assert shots_in_words([0, 1, 2]) == "shots 1–3"
    assert shots_in_words([0, 2, 4]) == "shots 1, 3, 5"
    assert shots_in_words([1, 2, 3, 6, 7, 8, 10]) == "shots 2–4, 7–9, 11"
    assert shots_in_words(list(range(0, 2000, 2))) == "1000 shots"  # Ctrl+A then a scene cut on every other


@given(st.sets(st.integers(0, 60), min_size=2))
def test_every_selected_shot_is_named_once_or_counted(rows):
    rows = sorted(rows)
    words = shots_in_words(rows)
    if words == f"{len(rows)} shots":
        return
    named = []
    for part in words.removeprefix("shots ").split(", "):
        first, _, last = part.partition("–")
        named += range(int(first), int(last or first) + 1)
    assert named == [r + 1 for r in rows] and len(words.split(", ")) <= MAX_PARTS
