"""One queue of shots on one engine, reported as plain events (no Qt, no pipes).

The app runs this inside the engine process (``engine_process.serve``) and relays the events to
the UI as Qt signals; the engine and its loaded models are kept between queues while the engine
settings stay the same. Events are tuples ``(name, *args)``:

- ``("engine_ready", label, reused, preset_reason)``: the engine for this queue exists (models load on first
  use); which offload preset it uses and why (what "auto" chose for this machine)
- ``("started_shot", shot_id)``
- ``("progress", shot_id, step, total, phase, elapsed_s, eta_s)``: eta -1 when unknown
- ``("take_ready", shot_id, take_dict)``: ``Take.to_dict()``; the caller records it in project.json
- ``("failed", shot_id, message, details)``: message for the user, details (traceback) for the log
- ``("cancelled", shot_id)`` / ``("skipped", shot_id)``: dropped, or already up to date
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the editor imports GenerationJob; the engine (numpy, torch) loads in the engine process
    from storymem_engine.engine import CancelFn, Progress

EmitFn = Callable[..., None]


@dataclass
class GenerationJob:
    """Everything one queue needs, plain data so it crosses threads and processes."""

    folder: str
    project: dict[str, Any]  # Project.to_dict() of the snapshot
    shot_ids: list[str]
    engine: dict[str, Any]  # EngineSettings fields
    director: dict[str, Any]  # DirectorSettings fields (keyframes as a dict)
    skip_current: bool = False  # skip shots whose accepted take was made from the request they'd get now
    stop_on_failure: bool = True  # False: a failed shot is reported and the queue goes on with the next
    finalize: bool = False  # draft takes are made again at the final profile with their seed (Finalize)
    # Split every shot across this many GPUs (context parallelism, engine_group.py); 1: the engine process's own.
    gpus: int = 1
    parallel: str = "ulysses"  # with gpus > 1: "ulysses" or "ring" (distributed.py)


class QueueRunner:
    """``make_engine(EngineSettings)``: the engine for a queue (a multi-GPU group's rank 0 wraps it so the other
    ranks make the same calls); default: a StoryMemEngine."""

    def __init__(self, emit: EmitFn, make_engine: Callable[[Any], Any] | None = None) -> None:
        self.emit = emit
        self._make_engine = make_engine
        self._engine = None
        self._engine_key: tuple | None = None

    def run(self, job: GenerationJob, cancel: CancelFn) -> None:
        """Generate ``job.shot_ids`` in order; every shot ends in exactly one take/failed/cancelled/skipped."""
        from storymem_engine.engine import GenerationCancelled

        ids = list(job.shot_ids)
        try:
            director = self._director(job)
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user as a message
            self._fail_rest(ids, exc)
            return
        order = [s.id for s in director.project.story.shots]
        cancelled = False
        for n, shot_id in enumerate(ids):
            cancelled = cancelled or cancel()
            if cancelled or shot_id not in order:
                self.emit("cancelled", shot_id)
                continue
            index = order.index(shot_id)
            if job.skip_current and director.is_current(index):
                self.emit("skipped", shot_id)
                continue
            self.emit("started_shot", shot_id)
            try:
                take = director.generate_shot(index, progress=self._report, cancel=cancel, finalize=job.finalize)
            except GenerationCancelled:
                cancelled = True
                self.emit("cancelled", shot_id)
                continue
            except Exception as exc:  # noqa: BLE001
                self.emit("failed", shot_id, message(exc), traceback.format_exc())
                if job.stop_on_failure:
                    # Later shots continue from this one; generating them now would use stale memory.
                    for rest in ids[n + 1:]:
                        self.emit("cancelled", rest)
                    return
                continue
            self.emit("take_ready", shot_id, take.to_dict())

    def unload(self) -> bool:
        """Drop the engine and its models; True when one was loaded."""
        had = self._engine is not None
        if had:
            self._engine.unload()
        self._engine = None
        self._engine_key = None
        return had

    def _fail_rest(self, ids: list[str], exc: Exception) -> None:
        for shot_id in ids[:1]:
            self.emit("failed", shot_id, message(exc), traceback.format_exc())
        for shot_id in ids[1:]:
            self.emit("cancelled", shot_id)

    def _report(self, p: Progress) -> None:
        eta = p.elapsed / p.step * (p.total - p.step) if 0 < p.step < p.total else -1.0
        self.emit("progress", p.shot_id, p.step, p.total, p.phase, p.elapsed, eta)

    def _director(self, job: GenerationJob):
        from storymem_engine.director import Director, DirectorSettings
        from storymem_engine.engine import EngineSettings, StoryMemEngine
        from storymem_engine.project import project_from_dict

        key = tuple(sorted(job.engine.items()))
        reused = self._engine is not None and key == self._engine_key
        if not reused:
            if self._engine is None:
                share_the_cpu()
            else:
                self._engine.unload()
            settings = EngineSettings(**job.engine)
            self._engine = self._make_engine(settings) if self._make_engine else StoryMemEngine(settings)
            self._engine_key = key
        self.emit("engine_ready", self._engine.label, reused, self._engine.preset_reason)
        project = project_from_dict(Path(job.folder), job.project, job.folder)
        return Director(project, self._engine, DirectorSettings.from_fields(job.director))


def share_the_cpu() -> None:
    """On a CPU-only machine torch's intra-op threads take every core and the editor waits for one:
    measured on 2 cores, the longest UI stall while the tiny engine generated fell from 108 ms to 23 ms
    with one torch thread (bench/app_bench.py). The engine process also yields to the editor (nice),
    as renderers do. With a GPU the heavy work is not on these cores: nothing changes."""
    import torch

    if torch.cuda.is_available():
        return
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    if hasattr(os, "nice"):
        try:
            os.nice(5)
        except OSError:
            pass


def message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, RuntimeError | FileNotFoundError) else f"{type(exc).__name__}: {text}"
