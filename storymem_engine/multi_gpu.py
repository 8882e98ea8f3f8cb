"""`render --gpus N`: the same render run by N processes, one per GPU, each shot split across them.

The CLI process checks everything a one-GPU render checks, then becomes torchrun's launcher (the elastic agent
`torchrun --standalone --nproc-per-node N` runs, in-process so its failures stay one line) and starts N copies
of the render command with CHILD_ENV set. Rank 0 is the render: it does all file work (project.json, takes,
keyframes, film, manifest, progress) and runs the director. The other ranks only compute: for each shot rank 0
broadcasts the engine call's inputs (the request and the memory, first and motion frames as arrays) and every
rank runs the same `engine.generate`, so the memory bank a shot sees is rank 0's by construction, a seed drawn
for a fresh take is rank 0's, and the other ranks need neither the project nor its files (another node works).

A rank that fails or is killed ends them all: the agent stops every worker when one exits non-zero, and each
worker dies with its launcher (PR_SET_PDEATHSIG), so a killed CLI leaves no orphans.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

CHILD_ENV = "STORYMEM_RANK_CHILD"  # set for the processes the launcher starts: they never launch again
_STOP = None  # what rank 0 broadcasts when the render is over
ERROR_GRACE_S = 3.0  # a failing worker waits this long for rank 0's own report (and the agent's stop) first


class GpuCountError(ValueError):
    pass


def in_child() -> bool:
    return os.environ.get(CHILD_ENV) == "1"


def env_rank() -> int:
    """This process's rank as torchrun set it (before the process group exists)."""
    return int(os.environ.get("RANK", "0"))


def check_gpus(gpus: int) -> None:
    """Refuse a GPU count this machine cannot run before anything starts."""
    import torch

    from storymem_engine.distributed import CPU_TEST_ENV

    if torch.cuda.is_available():
        found = torch.cuda.device_count()
        if gpus > found:
            raise GpuCountError(f"--gpus {gpus}: this machine has {found} CUDA GPU{'s' if found != 1 else ''}")
    elif os.environ.get(CPU_TEST_ENV) != "1":
        raise GpuCountError(f"--gpus {gpus} needs CUDA GPUs (one process per GPU) and none was found; "
                            "render without --gpus here")


def launch(gpus: int, argv: list[str]) -> int:
    """Run ``main.py <argv>`` as ``gpus`` ranks under torchrun's agent; the exit code is the render's."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # The agent logs each start and failure; the ranks print what the user needs (rank 0's progress, one error line).
    for name in list(logging.root.manager.loggerDict):  # each sets its own level when its module is imported
        if name.startswith("torch.distributed.elastic") or name.startswith("torch.distributed.launcher"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    root = str(Path(__file__).resolve().parents[1])
    os.environ[CHILD_ENV] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // gpus)))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=gpus, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)
    try:
        elastic_launch(config, sys.executable)("-m", "storymem_engine.rank_main", *argv)
    except ChildFailedError as exc:
        code = _exit_code(exc)
        if code < 0:  # killed by a signal: that rank could not say why
            rank, _ = exc.get_first_failure()
            why = " (out of host memory? the system kills the largest process)" if -code == 9 else ""
            print(f"\nerror: rank {rank} of the {gpus}-GPU render was killed (signal {-code}){why}; every rank "
                  "stopped", file=sys.stderr)
            return 1
        return code or 1
    except (SignalException, KeyboardInterrupt):
        return 130  # rank 0 said "cancelled"; the agent has stopped every rank
    return 0


def _exit_code(exc) -> int:
    _, failure = exc.get_first_failure()
    return int(failure.exitcode)


def die_with_launcher() -> None:
    """Linux: SIGTERM this rank when its launcher dies, whatever kills it (no orphaned GPU processes)."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_rank() -> None:
    """Join the process group (every rank, before any model loads)."""
    from storymem_engine.distributed import init_process_group

    die_with_launcher()
    init_process_group()


class BroadcastingEngine:
    """Rank 0's engine: each generate() first sends its inputs to the other ranks, which make the same call."""

    def __init__(self, engine) -> None:
        from storymem_engine.distributed import broadcast_object

        self._engine = engine
        broadcast_object(engine.settings)  # the preset "auto" chose, the project's offload and VAE settings

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def generate(self, request, memory=(), first_frame=None, motion_frames=None, progress=None, cancel=None):
        import torch.distributed as dist

        from storymem_engine.distributed import broadcast_object
        from storymem_engine.engine import EngineError

        try:
            broadcast_object((request, list(memory), first_frame, motion_frames))
            return self._engine.generate(request, memory, first_frame, motion_frames, progress=progress,
                                         cancel=cancel)
        except EngineError:
            raise  # this shot's own message (every rank meets it; rank 0 says it)
        except (dist.DistError, RuntimeError):
            # Often another rank is gone (gloo and NCCL say "connection closed by peer"): the agent then stops this
            # rank within the grace period and the launcher or that rank says why, so a line from here would be a
            # second one about the same failure. A failure of this rank alone is still reported, a moment later.
            time.sleep(ERROR_GRACE_S)
            raise

    def finish(self) -> None:
        """Tell the other ranks the render is over (they leave the group and exit 0)."""
        from storymem_engine.distributed import broadcast_object, shutdown

        broadcast_object(_STOP)
        shutdown()


def serve() -> int:
    """A rank other than 0: build the engine rank 0 describes, then run every shot rank 0 sends, until told to stop."""
    from dataclasses import replace

    from storymem_engine.distributed import broadcast_object, local_device, shutdown
    from storymem_engine.engine import StoryMemEngine

    start_rank()
    try:
        settings = broadcast_object()
        engine = StoryMemEngine(replace(settings, device=local_device()))
        while (job := broadcast_object()) is not _STOP:
            request, memory, first_frame, motion_frames = job
            engine.generate(request, memory, first_frame, motion_frames)
    except KeyboardInterrupt:
        return 130  # rank 0 says "cancelled" once
    except Exception as exc:  # noqa: BLE001 - one line, and only when rank 0 did not fail the same way
        # Most failures (a split that does not divide, a missing file) hit every rank at once: rank 0 reports
        # them and the agent stops this rank within the grace period. A failure of this rank alone is reported.
        time.sleep(ERROR_GRACE_S)
        print(f"error (rank {env_rank()}): {' '.join(str(exc).split())[:2000] or type(exc).__name__}",
              file=sys.stderr)
        return 1
    shutdown()
    return 0


def visible_gpu_count() -> int:
    """NVIDIA GPUs this process may use, found without importing torch (the app's UI process never starts CUDA)."""
    found = 0
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir():
        found = sum(1 for _ in gpus.iterdir())
    else:  # not Linux, or a driver without /proc: ask the driver's tool
        import shutil
        import subprocess

        tool = shutil.which("nvidia-smi")
        if tool:
            try:
                listing = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=5).stdout
                found = sum(1 for line in listing.splitlines() if line.startswith("GPU "))
            except (OSError, subprocess.SubprocessError):
                found = 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = []
        for entry in visible.split(","):
            if not entry.strip() or entry.strip().startswith("-"):
                break  # CUDA stops at the first invalid entry
            ids.append(entry)
        found = min(found, len(ids))
    return found


def gpu_note(count: int) -> str:
    """What the app's Settings say about this machine's GPUs and `render --gpus`."""
    if count == 0:
        return "No NVIDIA GPU found: the Wan engine needs one; the tiny engine runs on the CPU."
    if count == 1:
        return "1 NVIDIA GPU found: every shot renders on it."
    return (f"{count} NVIDIA GPUs found. The app renders each shot on one of them; to split every shot across all "
            f"{count}, render from the command line: main.py render STORY --out DIR --gpus {count} "
            "(README: Several GPUs).")


def check_host_memory(preset: str, gpus: int, machine, text_encoder_on_cpu: bool = False) -> None:
    """Every rank loads its own copy of the models: the host RAM the preset needs, N times over, must fit.

    (The one-process check in accounting.py covers each GPU's VRAM, which every rank has to itself.)
    """
    from storymem_engine.accounting import preset_needs

    needs = preset_needs(preset, text_encoder_on_cpu=text_encoder_on_cpu)
    total = needs.ram_gib * gpus
    if total > machine.usable_ram_gib:
        fit = int(machine.usable_ram_gib // needs.ram_gib) if needs.ram_gib > 0 else gpus
        fewer = f"--gpus {fit} " if fit >= 2 else ""
        raise GpuCountError(f"--gpus {gpus}: each of the {gpus} processes loads the models, and the '{preset}' "
                            f"preset holds {needs.ram_gib:.1f} GiB of RAM per process, {total:.1f} GiB in all; this "
                            f"machine has {machine.ram_gib:.1f} GiB ({machine.usable_ram_gib:.1f} usable). Use "
                            f"{fewer}or a preset that keeps less in RAM (--offload)")
