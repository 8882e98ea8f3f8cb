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
from dataclasses import dataclass
from pathlib import Path

PARALLEL_MODES = ("ulysses", "ring")
MAX_GPUS = 64  # one node's worth, and what `render --gpus` accepts
# TEST ONLY: lets a group run on CPU processes with gloo (distributed.py explains why a shim is needed there).
CPU_TEST_ENV = "STORYMEM_CPU_PARALLEL_TEST"
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

    if torch.cuda.is_available():
        found = torch.cuda.device_count()
        if gpus > found:
            raise GpuCountError(f"--gpus {gpus}: this machine has {found} CUDA GPU{'s' if found != 1 else ''}")
    elif os.environ.get(CPU_TEST_ENV) != "1":
        raise GpuCountError(f"--gpus {gpus} needs CUDA GPUs (one process per GPU) and none was found; "
                            "render without --gpus here")


def launch(gpus: int, argv: list[str]) -> int:
    """Run ``main.py <argv>`` as ``gpus`` ranks under torchrun's agent; the exit code is the render's."""
    end = run_ranks(gpus, "storymem_engine.rank_main", argv)
    if end.killed_rank is not None:  # a rank's own failure was printed by that rank
        print(f"\nerror: {end.killed(f'{gpus}-GPU render')}; every rank stopped", file=sys.stderr)
    return end.code


@dataclass
class GroupEnd:
    """How a group of ranks ended: ``code`` 0, a rank's own exit code, or 130 when the launcher was asked to stop;
    ``killed_rank``/``signal``: a rank killed by a signal (it could not say why itself); ``recorded``: the reason a
    failing rank left with `record_failure`."""

    code: int
    killed_rank: int | None = None
    signal: int = 0
    recorded: str = ""

    def killed(self, what: str) -> str:
        """"rank 1 of the 2-GPU <what> was killed (signal 9) ..." or "" when no rank was."""
        if self.killed_rank is None:
            return ""
        why = " (out of host memory? the system kills the largest process)" if self.signal == 9 else ""
        return f"rank {self.killed_rank} of the {what} was killed (signal {self.signal}){why}"


def run_ranks(gpus: int, module: str, args: list[str]) -> GroupEnd:
    """Run ``python -m module args`` as ``gpus`` ranks under torchrun's elastic agent (in this process's main
    thread: the agent sets signal handlers) until every rank has ended."""
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
        elastic_launch(config, sys.executable)("-m", module, *args)
    except ChildFailedError as exc:
        return failure_reason(exc)
    except (SignalException, KeyboardInterrupt):
        return GroupEnd(130)  # rank 0 said "cancelled"; the agent has stopped every rank
    return GroupEnd(0)


def failure_reason(exc) -> GroupEnd:
    """How a failed group ended. The agent stops the other ranks itself when one fails: their SIGTERM is not news."""
    failures = sorted(exc.failures.items())
    killed = [(rank, f) for rank, f in failures if f.exitcode < 0 and f.exitcode != -15]
    recorded = [(rank, f) for rank, f in failures if isinstance(f.message, dict)]
    _, first = exc.get_first_failure()
    end = GroupEnd(int(first.exitcode) if first.exitcode > 0 else 1)
    if killed:
        end.killed_rank, end.signal = killed[0][0], -int(killed[0][1].exitcode)
    if recorded:
        rank, failure = recorded[0]
        end.recorded = f"rank {rank}: {failure.message.get('message', '')}"
    return end


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


def _agreed(cancel) -> bool:
    """Rank 0's answer to "cancel?", on every rank at once (one small broadcast per check).

    The engine checks at fixed points of a shot (each step), the same on every rank; if rank 0 alone stopped, the
    others would wait in the next step's collectives for it. So every rank stops at the same check.
    """
    from storymem_engine.distributed import broadcast_object

    return bool(broadcast_object(bool(cancel()) if cancel is not None else None))


class BroadcastingEngine:
    """Rank 0's engine: each generate() first sends its inputs to the other ranks, which make the same call."""

    def __init__(self, engine) -> None:
        from storymem_engine.distributed import broadcast_object

        self._engine = engine
        # Why this group cannot take another shot ("" while it can): a shot failed part-way, so the ranks may stand
        # at different collectives. The app's rank 0 then ends the group after the queue (group_rank.py).
        self.broken = ""
        broadcast_object(engine.settings)  # the preset "auto" chose, the project's offload and VAE settings

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def generate(self, request, memory=(), first_frame=None, motion_frames=None, progress=None, cancel=None):
        import torch.distributed as dist

        from storymem_engine.distributed import broadcast_object
        from storymem_engine.engine import EngineError, GenerationCancelled

        if self.broken:
            raise EngineError(f"not generated: {self.broken}")
        try:
            broadcast_object((request, list(memory), first_frame, motion_frames))
            return self._engine.generate(request, memory, first_frame, motion_frames, progress=progress,
                                         cancel=lambda: _agreed(cancel))
        except GenerationCancelled:
            raise  # every rank stopped at the same check (_agreed)
        except (dist.DistError, RuntimeError) as exc:  # EngineError is a RuntimeError
            self.broken = f"the GPU group stopped after shot {request.shot_id} failed ({one_line(exc)})"
            if not isinstance(exc, EngineError):  # an EngineError is this shot's own message: rank 0 says it
                # Often another rank is gone (gloo and NCCL say "connection closed by peer"): the agent then stops
                # this rank within the grace period and the launcher or that rank says why, so a line from here
                # would be a second one about the same failure. A failure of this rank alone is still reported.
                time.sleep(ERROR_GRACE_S)
            raise


def finish() -> None:
    """Rank 0: tell the other ranks the work is over (they leave the group and exit 0), then leave it too."""
    from storymem_engine.distributed import broadcast_object, shutdown

    broadcast_object(_STOP)
    shutdown()


def serve() -> int:
    """A rank other than 0 (already in the group): build each engine rank 0 describes, run every shot it sends,
    until told to stop. Rank 0 sends a new engine description when its engine settings change."""
    from dataclasses import replace

    from storymem_engine.distributed import broadcast_object, local_device, shutdown
    from storymem_engine.engine import EngineSettings, GenerationCancelled, StoryMemEngine

    engine = None
    try:
        while (job := broadcast_object()) is not _STOP:
            if isinstance(job, EngineSettings):
                if engine is not None:
                    engine.unload()
                engine = StoryMemEngine(replace(job, device=local_device()))
                continue
            request, memory, first_frame, motion_frames = job
            try:
                engine.generate(request, memory, first_frame, motion_frames, cancel=lambda: _agreed(None))
            except GenerationCancelled:
                continue  # rank 0 cancelled at the same step; its next message follows
            # Any other failure ends this rank: whether the others stopped at the same point is unknown, and a
            # rank that goes on would pair its next collective with another rank's step.
    except KeyboardInterrupt:
        return 130  # rank 0 says "cancelled" once
    except Exception as exc:  # noqa: BLE001 - one line, and only when rank 0 did not fail the same way
        # Most failures (a split that does not divide, a missing file) hit every rank at once: rank 0 reports
        # them and the agent stops this rank within the grace period. A failure of this rank alone is reported.
        record_failure(exc)
        time.sleep(ERROR_GRACE_S)
        print(f"error (rank {env_rank()}): {one_line(exc)}", file=sys.stderr)
        return 1
    if engine is not None:
        engine.unload()
    shutdown()
    return 0


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:2000] or type(exc).__name__


def record_failure(exc: BaseException) -> None:
    """Leave this rank's reason where torchrun's agent reads it (TORCHELASTIC_ERROR_FILE, in the layout of
    torch.distributed.elastic's ErrorHandler, whose own message would start with the exception's type name), so
    the launcher can say why the group ended (`failure_reason`)."""
    import json
    import traceback

    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    data = {"message": {"message": one_line(exc), "extraInfo": {"py_callstack": traceback.format_exc(),
                                                                "timestamp": str(int(time.time()))}}}
    try:
        with open(path, "w", encoding="utf-8") as fp:
            json.dump(data, fp)
    except OSError:
        pass


NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")


def visible_gpus() -> list[str]:
    """Names of the NVIDIA GPUs this process may use, in CUDA's numbering ("NVIDIA H200"), found without importing
    torch (the app's UI process never starts CUDA): the driver's /proc files, else `nvidia-smi -L`."""
    names = []
    proc = NVIDIA_PROC
    if proc.is_dir():  # one folder per GPU, named by PCI bus id: CUDA numbers identical GPUs in that order
        for gpu in sorted(proc.iterdir()):
            try:
                info = (gpu / "information").read_text(errors="replace")
            except OSError:
                info = ""
            model = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                          if line.startswith("Model:")), "")
            names.append(model or "NVIDIA GPU")
    else:  # not Linux, or a driver without /proc: ask the driver's tool
        import shutil
        import subprocess

        tool = shutil.which("nvidia-smi")
        if tool:
            try:
                listing = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=5).stdout
            except (OSError, subprocess.SubprocessError):
                listing = ""
            names = [line.split(":", 1)[1].split("(UUID")[0].strip() for line in listing.splitlines()
                     if line.startswith("GPU ") and ":" in line]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return names
    ids = []
    for entry in visible.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break  # CUDA stops at the first invalid entry
        ids.append(entry)
    if all(i.isdigit() and int(i) < len(names) for i in ids):
        return [names[int(i)] for i in ids]
    return names[:len(ids)]  # UUIDs or MIG ids: as many as listed, names in bus order


def visible_gpu_count() -> int:
    """NVIDIA GPUs this process may use (see ``visible_gpus``)."""
    return len(visible_gpus())


def gpu_note(count: int) -> str:
    """What the app's Settings say about this machine's GPUs."""
    if count == 0:
        return "No NVIDIA GPU found: the Wan engine needs one; the tiny engine runs on the CPU."
    if count == 1:
        return "1 NVIDIA GPU found: every shot renders on it."
    return (f"{count} NVIDIA GPUs found. GPUs per shot splits every shot across that many of them (context "
            "parallelism: one process per GPU, each loads its own copy of the models, so host RAM must hold "
            f"that many); 1 renders each shot on the first GPU. The command line: main.py render STORY --out DIR "
            f"--gpus {count} (README: Several GPUs).")


def split_needs(gpus: int, preset: str, shard_weights: bool, machine, text_encoder_on_cpu: bool = False
                ) -> tuple[str, bool]:
    """What a shot split across ``gpus`` GPUs needs per GPU and in host RAM (every rank loads its own copy of the
    models), next to ``machine``; and whether it fits. ("", True) for one GPU."""
    from storymem_engine.accounting import preset_needs
    from storymem_engine.models import AUTO_OFFLOAD

    if gpus < 2:
        return "", True
    if shard_weights:
        preset, how = "full_gpu", f"full_gpu, 1/{gpus} of the experts per GPU"
    elif preset == AUTO_OFFLOAD:
        return (f"Every one of the {gpus} processes loads its own copy of the models: the offload preset's RAM "
                f"{gpus} times (this machine: {machine.describe()})."), True
    else:
        how = preset
    needs = preset_needs(preset, text_encoder_on_cpu=text_encoder_on_cpu, shards=gpus if shard_weights else 1)
    total = needs.ram_gib * gpus
    ok = total <= machine.usable_ram_gib and machine.vram_gib is not None and needs.vram_gib <= machine.vram_gib
    return (f"Split across {gpus} GPUs ({how}): each GPU needs {needs.vram_gib:.1f} GiB of VRAM; each of the {gpus} "
            f"processes {needs.ram_gib:.1f} GiB of RAM, {total:.1f} GiB in all. This machine: "
            f"{machine.describe()}."), ok


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
