"""A file or folder name made from a story's title: "The Queen: Part 1" offered as a project folder or a film's
name held a ':' that Windows and macOS' Finder refuse, and a '/' would have made a folder of half the title."""

from __future__ import annotations

import re

# Refused in a name on Windows (and '/' on every system); control characters are trouble everywhere.
_NOT_IN_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f]+')


UNTITLED_STORY = "Untitled story"  # a new project's story name, until the user or its first Save As names it


def file_name_from(title: str, fallback: str = UNTITLED_STORY) -> str:
    """``title`` with each run of characters a file name cannot hold made one '-' (a ': ' reads as ' - ')."""
    name = _NOT_IN_NAMES.sub("-", title.replace(": ", " - "))
    name = re.sub(r"\s+", " ", name).strip(" .-")  # Windows drops trailing dots and spaces
    # 255 bytes is a name's limit on common file systems: room left for " copy 2.storymem" or ".mp4".
    name = name.encode("utf-8")[:200].decode("utf-8", "ignore").rstrip(" .-")
    return name or fallback
