"""Shot numbers in the user's words, as the timeline numbers them (row 0 is shot 1)."""

from __future__ import annotations


def shots_in_words(rows: list[int]) -> str:
    """Sorted rows in words: "shot 3", "shots 1–3", "shots 1, 3, 5"."""
    if len(rows) == 1:
        return f"shot {rows[0] + 1}"
    if rows == list(range(rows[0], rows[-1] + 1)):
        return f"shots {rows[0] + 1}–{rows[-1] + 1}"
    return "shots " + ", ".join(str(row + 1) for row in rows)
