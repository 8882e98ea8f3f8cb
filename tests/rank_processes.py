"""Rank groups in tests: the processes a multi-GPU launcher started, found in Linux's /proc (tests kill one, or
check none is left), and running a gloo group on the CPU."""

from __future__ import annotations

import re
import subprocess
import warnings
from collections.abc import Callable
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


# How a rank that gloo aborted shows: torchrun's summary, or the CLI's one line for a rank killed by a signal.
_ABORTED = re.compile(r"Signal 6 \(SIGABRT\)|killed \(signal 6\)")
# Python's own stack of the aborting rank (PYTHONFAULTHANDLER) and gloo's reason, when they reached stderr.
_WHY = re.compile(r"Fatal Python error|terminate called|what\(\):|^\s*File \"")


def rank_env() -> dict[str, str]:
    """Environment for a test's rank group: a rank that aborts prints its Python stack (faulthandler)."""
    return {"PYTHONFAULTHANDLER": "1"}


def run_ranks(start: Callable[[], subprocess.CompletedProcess]) -> subprocess.CompletedProcess:
    """Run a group of gloo ranks on the CPU; once more if one of them aborted (SIGABRT).

    A rank of the 2-rank tiny group aborted mid-run in one CI run (2026-11-30: rank 0 SIGABRT, rank 1 then lost
    its peer in an all-to-all; the same fixture failed unexplained once before, in a clean-clone run); here, 0 in 84
    runs of that group and 278 passes of its work in two long-lived groups, idle or with the cores loaded. The CPU
    group exists only to test the GPU code path (NCCL there), so one abort is a warning with what the rank printed
    (its Python stack, through ``rank_env``), and only a second one fails the test. Errors and any other ending are
    never run again.
    """
    result = start()
    if result.returncode == 0 or not _ABORTED.search(result.stdout + result.stderr):
        return result
    lines = (result.stdout + result.stderr).splitlines()
    why = [line for line in lines if _WHY.search(line)][:40]
    warnings.warn("a gloo rank aborted (SIGABRT) and the group ran again. What it printed:\n"
                  + "\n".join(why or lines[-40:]), stacklevel=2)
    return start()
