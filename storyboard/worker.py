"""The generation worker: a QObject living on its own QThread that owns the engine.

torch, diffusers and the director load lazily on the first job, inside the worker thread, so the
editor opens without them. The worker never touches the UI's Story: each queue runs on a snapshot
of the project (same folder, so take files land in the real project) and every finished take goes
back to the UI thread as a dict through ``take_ready``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot


@dataclass
class GenerationJob:
    """Everything one queue needs, plain data so it crosses threads safely."""

    folder: str
    project: dict[str, Any]  # Project.to_dict() of the snapshot
    shot_ids: list[str]
    engine: dict[str, Any]  # EngineSettings fields
    director: dict[str, Any]  # DirectorSettings fields (keyframes as a dict)
    skip_current: bool = False  # skip shots whose accepted take was made from the request they'd get now
    stop_on_failure: bool = True  # False: a failed shot is reported and the queue goes on with the next


class GenerationWorker(QObject):
    progress = Signal(str, int, int, str, float, float)  # shot id, step, total, phase, elapsed s, eta s (-1: unknown)
    started_shot = Signal(str)
    take_ready = Signal(str, object)  # shot id, Take.to_dict()
    failed = Signal(str, str)  # shot id, message
    cancelled = Signal(str)
    skipped = Signal(str)  # already up to date
    queue_finished = Signal()
    unloaded = Signal(bool)  # True when an engine was loaded and is now released

    def __init__(self) -> None:
        super().__init__()
        # A plain Event, not a queued signal: the worker's event loop is busy while it generates.
        self._cancel = threading.Event()
        self._engine = None
        self._engine_key: tuple | None = None

    def cancel(self) -> None:
        """Thread-safe: checked by the engine every denoising step; the rest of the queue is dropped."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @Slot(object)
    def run_queue(self, job: GenerationJob) -> None:
        self._cancel.clear()
        try:
            self._run(job)
        finally:
            self.queue_finished.emit()

    def _run(self, job: GenerationJob) -> None:
        ids = list(job.shot_ids)
        try:
            director = self._director(job)
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user as a message
            for shot_id in ids[:1]:
                self.failed.emit(shot_id, _message(exc))
            for shot_id in ids[1:]:
                self.cancelled.emit(shot_id)
            return
        from storymem_engine.engine import GenerationCancelled

        order = [s.id for s in director.project.story.shots]
        for n, shot_id in enumerate(ids):
            if self._cancel.is_set() or shot_id not in order:
                self.cancelled.emit(shot_id)
                continue
            index = order.index(shot_id)
            if job.skip_current and director.is_current(index):
                self.skipped.emit(shot_id)
                continue
            self.started_shot.emit(shot_id)
            try:
                take = director.generate_shot(index, progress=self._report, cancel=self._cancel.is_set)
            except GenerationCancelled:
                self._cancel.set()
                self.cancelled.emit(shot_id)
                continue
            except Exception as exc:  # noqa: BLE001
                self.failed.emit(shot_id, _message(exc))
                if job.stop_on_failure:
                    # Later shots continue from this one; generating them now would use stale memory.
                    for rest in ids[n + 1:]:
                        self.cancelled.emit(rest)
                    return
                continue
            self.take_ready.emit(shot_id, take.to_dict())

    @Slot()
    def unload(self) -> None:
        """Release the engine's models (GPU and CPU memory); the next job loads them again."""
        had = self._engine is not None
        if had:
            self._engine.unload()
        self._engine = None
        self._engine_key = None
        self.unloaded.emit(had)

    def _report(self, p) -> None:
        eta = p.elapsed / p.step * (p.total - p.step) if 0 < p.step < p.total else -1.0
        self.progress.emit(p.shot_id, p.step, p.total, p.phase, p.elapsed, eta)

    def _director(self, job: GenerationJob):
        from storymem_engine.director import Director, DirectorSettings
        from storymem_engine.engine import EngineSettings, StoryMemEngine
        from storymem_engine.keyframes import KeyframeSettings
        from storymem_engine.project import project_from_dict

        key = tuple(sorted(job.engine.items()))
        if self._engine is None or key != self._engine_key:
            _leave_a_core_for_the_ui()
            if self._engine is not None:
                self._engine.unload()
            # The engine (and its loaded models) is kept between queues while its settings stay the same.
            self._engine = StoryMemEngine(EngineSettings(**job.engine))
            self._engine_key = key
        project = project_from_dict(Path(job.folder), job.project, job.folder)
        settings = dict(job.director)
        settings["keyframes"] = KeyframeSettings(**settings.get("keyframes", {}))
        return Director(project, self._engine, DirectorSettings(**settings))


def _leave_a_core_for_the_ui() -> None:
    """On a CPU-only machine torch's intra-op threads take every core and the UI thread waits for one:
    measured on 2 cores, the longest UI stall while the tiny engine generated fell from 108 ms to 23 ms
    with one torch thread (bench/app_bench.py). With a GPU the heavy work is not on these cores."""
    import os

    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, RuntimeError | FileNotFoundError) else f"{type(exc).__name__}: {text}"


class WorkerThread(QObject):
    """Owns the thread and the worker; ``submit`` queues a job on the worker thread."""

    submit_job = Signal(object)
    unload_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("generation")
        self.worker = GenerationWorker()
        self.worker.moveToThread(self.thread)
        self.submit_job.connect(self.worker.run_queue)
        self.unload_requested.connect(self.worker.unload)
        self.thread.start()
        self.busy = False
        self.worker.queue_finished.connect(self._finished)
        self.started_at = time.monotonic()

    def submit(self, job: GenerationJob) -> None:
        self.busy = True
        self.started_at = time.monotonic()
        self.submit_job.emit(job)

    def _finished(self) -> None:
        self.busy = False

    def stop(self, timeout_ms: int = 120_000) -> bool:
        """Cancel, let the current step finish, and join the thread."""
        self.worker.cancel()
        self.thread.quit()
        return self.thread.wait(timeout_ms)
