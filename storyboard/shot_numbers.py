"""Shot numbers in the user's words, as the timeline numbers them (row 0 is shot 1)."""

from __future__ import annotations

MAX_PARTS = 5  # beyond this many runs a list stops being read: "412 shots"


def shots_in_words(rows: list[int]) -> str:
    """Sorted rows in words: "shot 3", "shots 1–3", "shots 1, 3, 5", "shots 2–4, 7"; "412 shots" when the list
    would run on (a status line or an undo step names them)."""
    if len(rows) == 1:
        return f"shot {rows[0] + 1}"
    runs: list[list[int]] = []
    for row in rows:
        if runs and row == runs[-1][-1] + 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    if len(runs) > MAX_PARTS:
        return f"{len(rows)} shots"
    return "shots " + ", ".join(f"{run[0] + 1}–{run[-1] + 1}" if len(run) > 1 else f"{run[0] + 1}" for run in runs)


def cards_note(rows: list[int]) -> str:
    """"; shots 2, 4–6 are animatic cards (…)" for an exported film's shots without a take ("" when none): a film
    of cards is never passed off as a finished one."""
    if not rows:
        return ""
    return f"; {shots_in_words(rows)} {'is its animatic card' if len(rows) == 1 else 'are animatic cards'} " \
           "(no accepted take yet)"
