"""The engine in its own process, so generating never holds the editor's interpreter.

In one process, importing torch and diffusers and running the Python between torch calls held the
GIL for up to 350 ms at a time: the editor froze although the work was on another thread
(bench/app_bench.py, RESULTS.md). In a child process the editor only reads small pickled events.
It also keeps a CUDA crash or an out-of-memory kill from taking the user's editor down, and
"unload models" becomes ending the process, which returns every byte of GPU and CPU memory.

Two one-way pipes: commands go down (``job``, ``cancel``, ``quit``), events come up
(``queue_runner``'s events, then ``("finished",)`` after each job). The
child is started with "spawn" on every platform: a fork of a Qt process with threads is unsafe,
and spawn is what a PyInstaller bundle supports (main.py calls ``multiprocessing.freeze_support``).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from multiprocessing.connection import Connection

from storymem_engine.queue_runner import GenerationJob

FINISHED = "finished"
DIED = "died"  # the child ended mid-job (or a multi-GPU launcher's group did); args: a message naming how
# Rank 0 of a multi-GPU group to its launcher: this group ends after this job (engine_group.py); not relayed.
ENDING = "ending"
HEARTBEAT = "heartbeat"  # sent by the child every HEARTBEAT_S while it lives, whatever it is doing
HEARTBEAT_S = 1.0
# No event (not even a heartbeat) for this long: the process is stopped (SIGSTOP, a hung driver holding it):
# it is ended and the running shot fails with that reason. After a Cancel it gets CANCEL_SILENCE_S.
SILENCE_S = 30.0
CANCEL_SILENCE_S = 5.0

# How engine processes start: "spawn" in the app (see above). A CPU test suite sets "forkserver": each child is
# then forked from one server that imported the engine's libraries once, and starts in well under a second
# instead of importing torch, diffusers, transformers, open_clip and peft again (~4 s on 2 cores, most of a tiny
# generation). The app keeps spawn: a library that touches CUDA while the server imports it would leave every
# forked child unable to use the GPU, and a second or two at the start of a queue is nothing next to loading Wan.
START_METHOD = "spawn"
FORKSERVER_PRELOAD = ("storymem_engine.engine", "storymem_engine.director", "storymem_engine.pipeline",
                      "transformers", "open_clip", "peft")


def serve(commands: Connection, events: Connection, gpus: int = 1, parallel: str = "ulysses",
          environ: dict[str, str] | None = None, cwd: str | None = None) -> None:
    """The child's main loop: one job at a time, until ``quit`` or the parent goes away.

    With ``gpus`` > 1 this process is the launcher of a torch.distributed group instead (engine_group.py): every
    shot is split across that many GPUs, and rank 0 of the group runs ``serve_queue`` over a socket.
    ``environ`` and ``cwd``: the editor's, for a child forked from a forkserver (which has its own, from when it
    started); a spawned child has them already.
    """
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    if cwd is not None:
        os.chdir(cwd)
    from storymem_engine.models import configure_cuda_allocator

    configure_cuda_allocator()
    if gpus > 1:
        from storymem_engine.engine_group import serve_group

        serve_group(commands, events, gpus, parallel)
    else:
        from storymem_engine.queue_runner import QueueRunner

        serve_queue(commands, events, QueueRunner)
    # The models are unloaded and every take is written by now. The interpreter's module teardown (torch's and
    # diffusers' modules, a gc of everything) would keep the editor's Quit or Unload waiting ~1.2 s for nothing;
    # the exit handlers still run (multiprocessing's finalizers release the semaphore tqdm made, else the editor's
    # resource tracker warns about a leak at quit).
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def serve_queue(commands: Connection, events: Connection, make_runner, ended=lambda: False) -> None:
    """Run each ``job`` sent on ``commands`` with ``make_runner(emit)``'s QueueRunner; events go up ``events``.

    ``commands`` and ``events`` may be one duplex connection (rank 0 of a multi-GPU group talks to its launcher
    over one socket); ``ended()`` True after a job stops serving (that group cannot go on).
    """
    send_lock = threading.Lock()

    def emit(*event) -> None:
        with send_lock:  # the heartbeat thread and the job share the pipe
            _send(events, event)

    alive = threading.Event()

    def heartbeat() -> None:
        # A thread of its own: it beats while a step runs (torch releases the GIL) and stops only when the
        # whole process does, which is what the editor needs to know.
        while not alive.wait(HEARTBEAT_S):
            emit(HEARTBEAT)

    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
    runner = make_runner(emit)
    state = {"cancel": False, "quit": False}

    def cancelled() -> bool:
        # Called every denoising step: read what the parent sent meanwhile without waiting.
        try:
            while not state["cancel"] and commands.poll():
                kind = commands.recv()[0]
                state["cancel"] = state["cancel"] or kind in ("cancel", "quit")
                state["quit"] = state["quit"] or kind == "quit"
        except (EOFError, OSError):  # the editor is gone: stop, nobody will take the result
            state["cancel"] = state["quit"] = True
        return state["cancel"]

    try:
        while not state["quit"]:
            try:
                command = commands.recv()
            except (EOFError, OSError):
                break
            kind = command[0]
            if kind == "job":
                state["cancel"] = False
                try:
                    runner.run(GenerationJob(**command[1]), cancelled)
                finally:
                    over = ended()
                    if over:
                        emit(ENDING)  # before FINISHED: the launcher keeps the editor's next job for a new group
                    emit(FINISHED)
                if over:
                    break
            elif kind == "quit":
                break
    finally:
        alive.set()
        runner.unload()


def _send(events: Connection, event: tuple) -> None:
    try:
        events.send(event)
    except OSError:
        pass  # the editor closed its end: nothing to tell


class EngineProcess:
    """The editor's handle on the engine process; started on the first job, ended by ``close``.

    ``run`` is called from one thread (the app's worker thread); ``cancel`` may come from any thread.
    """

    def __init__(self, silence_s: float = SILENCE_S, cancel_silence_s: float = CANCEL_SILENCE_S) -> None:
        self._process: multiprocessing.process.BaseProcess | None = None
        self._commands: Connection | None = None
        self._events: Connection | None = None
        self._send_lock = threading.Lock()
        self.silence_s = silence_s
        self.cancel_silence_s = cancel_silence_s
        self._cancel_requested = False
        self._layout = (1, "")  # (GPUs per shot, parallel mode) of the running process

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.alive else None

    def start(self, gpus: int = 1, parallel: str = "ulysses") -> None:
        """Start the process for shots on one GPU, or as the launcher of a ``gpus``-rank group; a running one
        laid out otherwise is ended first (its models are unloaded with it)."""
        layout = (gpus, parallel if gpus > 1 else "")
        if self.alive and layout == self._layout:
            return
        if self.alive:
            self.close()
        self._reap()
        self._layout = layout
        ctx = multiprocessing.get_context(START_METHOD)
        commands_out, commands_in = ctx.Pipe(duplex=False)
        events_out, events_in = ctx.Pipe(duplex=False)
        forked = START_METHOD == "forkserver"
        if forked:
            ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
        # daemon: ended by multiprocessing when the editor exits, even after an unhandled error.
        process = ctx.Process(target=serve, name="storymem-engine", daemon=True,
                              args=(commands_out, events_in, gpus, parallel, dict(os.environ) if forked else None,
                                    os.getcwd() if forked else None))
        process.start()
        commands_out.close()  # the child's ends: closing ours makes recv() see EOF when the child dies
        events_in.close()
        self._process, self._commands, self._events = process, commands_in, events_out

    def run(self, job: GenerationJob) -> Iterator[tuple]:
        """Send a job and yield its events until it finishes; ``(DIED, message)`` if the process ends (or, for a
        multi-GPU group, the group does: its launcher says which rank failed and how, and stays up)."""
        self.start(job.gpus, job.parallel)
        self._cancel_requested = False
        if not self._post(("job", asdict(job))):
            yield DIED, self._death_message()
            return
        last = time.monotonic()
        while True:
            try:
                ready = self._events.poll(0.5)
                event = self._events.recv() if ready else None
            except (EOFError, OSError):
                yield DIED, self._death_message()
                self._reap()
                return
            now = time.monotonic()
            if event is None:
                limit = self.cancel_silence_s if self._cancel_requested else self.silence_s
                if now - last > limit:
                    silent = now - last
                    self.kill()
                    yield DIED, self._death_message(f"stopped answering (no sign of life for {silent:.0f} s"
                                                    f"{' after Cancel' if self._cancel_requested else ''}) "
                                                    "and was ended")
                    self._reap()
                    return
                continue
            last = now
            if event[0] == HEARTBEAT:
                continue
            if event[0] == FINISHED:
                return
            yield event
            if event[0] == DIED:
                return

    def cancel(self) -> None:
        """Ask the engine to stop after the current step; one that does not answer is ended (see ``run``)."""
        self._cancel_requested = True
        self._post(("cancel",))

    def kill(self) -> None:
        """End the process now, from any thread; a ``run`` in progress then yields ``DIED``."""
        process = self._process
        try:
            if process is not None and process.is_alive():
                process.kill()
        except ValueError:  # reaped meanwhile by the thread running the job: already gone
            pass

    def close(self, timeout_s: float = 10.0) -> bool:
        """End the process (asking first, then terminating); True when one was running."""
        process = self._process
        if process is None:
            return False
        was_alive = process.is_alive()
        self._post(("quit",))
        process.join(timeout_s)
        if process.is_alive():
            process.terminate()
            process.join(5.0)
        if process.is_alive():
            process.kill()
            process.join(5.0)
        self._reap()
        return was_alive

    def _post(self, command: tuple) -> bool:
        with self._send_lock:
            if self._commands is None:
                return False
            try:
                self._commands.send(command)
                return True
            except OSError:
                return False

    def _death_message(self, how: str | None = None) -> str:
        process = self._process
        if process is not None:
            process.join(2.0)
        code = process.exitcode if process is not None else None
        if how is None and code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"was killed ({name})"
            if -code == getattr(signal, "SIGKILL", 9):
                how += "; the system may have run out of memory"
        elif how is None and code is not None:
            how = f"exited with code {code}"
        elif how is None:
            how = "stopped answering"
        return (f"The engine process {how}. Your project and earlier takes are safe; "
                "the next Generate starts a new engine process.")

    def _reap(self) -> None:
        with self._send_lock:
            for conn in (self._commands, self._events):
                if conn is not None:
                    conn.close()
            if self._process is not None and not self._process.is_alive():
                self._process.close()
            self._process = self._commands = self._events = None
