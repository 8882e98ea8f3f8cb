"""Whether a downloaded model file can be used, told from its size and header alone (no weights read).

A download cut off, a zero-byte placeholder or a hand-edited config passed the models check (only "is it there")
and failed minutes into a load with a library's words ("Unable to load weights from checkpoint file",
"header too small"), or after a whole shot when CLIP loaded. Reading a safetensors header or a config is
milliseconds, so the check before anything loads reads them all.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import zipfile
from pathlib import Path

# A safetensors header is JSON of a few hundred KB for the largest shards; anything claiming more is not one.
MAX_HEADER = 100 * 2**20


def file_problem(path: Path) -> str:
    """Why ``path`` (an existing file) cannot be used, in words ("" when it looks whole)."""
    try:
        stat = Path(path).stat()
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return _problem(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _problem(path: str, size: int, _mtime_ns: int) -> str:
    if size == 0:
        return "empty (0 bytes): the download did not finish"
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".json":
            with open(path, "rb") as handle:
                json.loads(handle.read())
            return ""
        if suffix == ".safetensors":
            return _safetensors_problem(path, size)
        if suffix in (".pth", ".bin", ".pt"):
            return _torch_file_problem(path)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    except (ValueError, UnicodeDecodeError):
        return "not valid JSON (damaged or cut off)"
    return ""


def _safetensors_problem(path: str, size: int) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return f"cut off ({size} bytes, not even a safetensors header)"
        (length,) = struct.unpack("<Q", head)
        if length > MAX_HEADER or 8 + length > size:
            return f"not a safetensors file, or cut off ({size} bytes)"
        header = json.loads(handle.read(length))
    if not isinstance(header, dict):
        return "not a safetensors file (its header is not a table of tensors)"
    ends = [entry["data_offsets"][1] for name, entry in header.items()
            if name != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry]
    needed = 8 + length + max(ends, default=0)
    if size < needed:
        return f"cut off: {size:,} of its {needed:,} bytes (the download did not finish)"
    return ""


def _torch_file_problem(path: str) -> str:
    """torch.save writes a zip since PyTorch 1.6 (its directory is at the end: a cut-off file has none); older
    files are a bare pickle, which starts with the protocol byte."""
    if zipfile.is_zipfile(path):
        return ""
    with open(path, "rb") as handle:
        first = handle.read(2)
    if first[:1] == b"\x80":
        return ""
    if first == b"PK":
        return "cut off (a PyTorch archive without its end: the download did not finish)"
    return "not a PyTorch weights file"
