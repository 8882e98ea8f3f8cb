"""The rank processes a multi-GPU launcher started, found in Linux's /proc (tests kill one, or check none is left)."""

from __future__ import annotations

from pathlib import Path


def ranks_of(launcher_pid: int, module: str) -> dict[int, int]:
    """{rank: pid} of the processes running ``python -m <module>`` whose parent is ``launcher_pid``."""
    ranks = {}
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or module.encode() not in (proc / "cmdline").read_bytes():
                continue
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) != launcher_pid:
                continue
            env = dict(v.split("=", 1) for v in (proc / "environ").read_text().split("\0") if "=" in v)
            ranks[int(env["RANK"])] = int(proc.name)
        except (OSError, ValueError, KeyError):
            continue
    return ranks
