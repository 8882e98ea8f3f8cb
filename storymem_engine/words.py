"""Counts in the user's messages read as English: "1 keyframe", "3 keyframes", never "keyframe(s)"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
