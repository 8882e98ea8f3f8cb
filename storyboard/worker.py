"""The generation worker: a QObject on its own QThread that relays the engine process to the UI.

The engine runs in a child process (``storymem_engine.engine_process``): torch and diffusers never
load into the editor, so nothing they do can hold its interpreter. This thread sends each queue
down and waits on the pipe, turning every event into the signal of the same name; the UI thread
receives them as queued calls. The worker never touches the UI's Story: each queue runs on a
snapshot of the project (same folder, so take files land in the real project) and every finished
take comes back as a dict through ``take_ready``.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QThread, Signal, Slot

from storymem_engine.engine_process import DIED, EngineProcess
from storymem_engine.queue_runner import GenerationJob

__all__ = ["GenerationJob", "GenerationWorker", "WorkerThread"]


class GenerationWorker(QObject):
    engine_ready = Signal(str, bool, str)  # engine label, True when reused, which offload preset and why
    progress = Signal(str, int, int, str, float, float)  # shot id, step, total, phase, elapsed s, eta s (-1: unknown)
    started_shot = Signal(str)
    take_ready = Signal(str, object)  # shot id, Take.to_dict()
    failed = Signal(str, str, str)  # shot id, message, details for the log (traceback)
    cancelled = Signal(str)
    skipped = Signal(str)  # already up to date
    queue_finished = Signal()
    unloaded = Signal(bool)  # True when an engine was loaded and is now released

    RELAYED = ("engine_ready", "progress", "started_shot", "take_ready", "failed", "cancelled", "skipped")

    def __init__(self) -> None:
        super().__init__()
        self.engine = EngineProcess()

    def cancel(self) -> None:
        """Thread-safe: the engine checks it every denoising step; the rest of the queue is dropped."""
        self.engine.cancel()

    @Slot(object)
    def run_queue(self, job: GenerationJob) -> None:
        open_ids = list(job.shot_ids)  # shots not yet answered (take, failure, cancel or skip)
        try:
            for name, *args in self.engine.run(job):
                if name == DIED:
                    self._fail_open(open_ids, args[0], "")
                    return
                if name in ("take_ready", "failed", "cancelled", "skipped") and args[0] in open_ids:
                    open_ids.remove(args[0])
                if name in self.RELAYED:
                    getattr(self, name).emit(*args)
        except Exception as exc:  # noqa: BLE001 - e.g. the process could not start: a message, not a traceback
            self._fail_open(open_ids, f"The engine process could not run: {type(exc).__name__}: {exc}", "")
        finally:
            self.queue_finished.emit()

    def _fail_open(self, open_ids: list[str], message: str, details: str) -> None:
        """The running (or next) shot failed with ``message``; later ones were never started."""
        for n, shot_id in enumerate(open_ids):
            if n == 0:
                self.failed.emit(shot_id, message, details)
            else:
                self.cancelled.emit(shot_id)

    @Slot()
    def unload(self) -> None:
        """Release the models by ending the engine process: all of its GPU and CPU memory goes back."""
        self.unloaded.emit(self.engine.close())


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

    def stop(self, grace_ms: int = 30_000) -> bool:
        """Cancel, give the running step ``grace_ms`` to end, then end the engine process and join.

        The window calls this once no queue runs (GenerationController.maybe_stop waits for that without
        blocking), so it normally returns at once; the waits are for callers that stop a running queue.
        """
        self.worker.cancel()
        self.thread.quit()
        if not self.thread.wait(grace_ms):
            # A step of the real model can take minutes: end the process, the relay then sees it gone.
            self.worker.engine.kill()
        joined = self.thread.wait(30_000)
        self.worker.engine.close(timeout_s=2.0)
        return joined
