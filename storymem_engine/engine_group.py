"""The app's engine process as the launcher of a multi-GPU group (Settings > GPUs per shot > 1).

The editor talks to its engine process exactly as with one GPU (engine_process.py: jobs and Cancel down, events
up). With N GPUs per shot that process starts N ranks under torchrun's elastic agent (multi_gpu.run_ranks, the
same launcher `render --gpus N` uses) and relays: rank 0 (group_rank.py) runs the editor's queues as the
one-GPU engine process does, over a Unix socket to this process, and the other ranks compute what it sends. The
group, with its models, stays up between queues, as the one-GPU engine does.

When a rank fails or is killed the agent stops every rank; this process then tells the editor the running shot
failed and why (DIED with the rank's reason), and starts a new group for the next job. When this process is
ended (Cancel with no answer, Unload models, quit), each rank dies with it (PR_SET_PDEATHSIG): no orphaned
process keeps GPU memory.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from multiprocessing.connection import Client, Connection, wait

from storymem_engine.engine_process import DIED, ENDING, FINISHED, HEARTBEAT, HEARTBEAT_S, _send

SOCKET_ENV = "STORYMEM_GROUP_SOCKET"  # where rank 0 listens for its launcher
KEY_ENV = "STORYMEM_GROUP_KEY"  # the connection's authentication key (hex), so no other local process connects
POLL_S = 0.2


def serve_group(commands: Connection, events: Connection, gpus: int, parallel: str) -> None:
    """Until ``quit`` or the editor goes away: for each job, run it on the group (started when none runs)."""
    lock = threading.Lock()

    def emit(*event) -> None:
        with lock:
            _send(events, event)

    while True:
        try:
            command = commands.recv()
        except (EOFError, OSError):
            return
        if command[0] == "quit":
            return
        if command[0] != "job":
            continue  # a Cancel that came after its queue ended
        if not GroupRelay(commands, emit, command).run(gpus, parallel):
            return


@contextmanager
def own_signal_handlers():
    """torchrun's agent installs handlers for SIGTERM/SIGINT/SIGHUP/SIGQUIT that raise its SignalException and leaves
    them: between groups this process must end on SIGTERM as any engine process does, without a traceback."""
    names = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT")
    saved = {n: signal.getsignal(getattr(signal, n)) for n in names if hasattr(signal, n)}
    try:
        yield
    finally:
        for name, handler in saved.items():
            signal.signal(getattr(signal, name), handler)


class GroupRelay:
    """One group's life: start the ranks, hand rank 0 the job that started it, relay until the group ends."""

    def __init__(self, commands: Connection, emit, first_job: tuple) -> None:
        self.commands = commands
        self.emit = emit
        self.first_job = first_job
        self.in_job = True  # a job was sent to rank 0 and its FINISHED has not come back
        self.quit = False  # the editor asked this process to end
        self._stop = threading.Event()

    def run(self, gpus: int, parallel: str) -> bool:
        """Run the group until it ends; False when this process should end too (quit, or the editor is gone)."""
        from storymem_engine.multi_gpu import run_ranks

        folder = tempfile.mkdtemp(prefix="storymem-group-")
        key = secrets.token_bytes(16)
        os.environ[SOCKET_ENV] = address = os.path.join(folder, "rank0")
        os.environ[KEY_ENV] = key.hex()
        relay = threading.Thread(target=self._relay, args=(address, key), name="group-relay", daemon=True)
        relay.start()
        try:
            with own_signal_handlers():
                end = run_ranks(gpus, "storymem_engine.group_rank", [parallel])
        finally:
            self._stop.set()
            relay.join()
            shutil.rmtree(folder, ignore_errors=True)
        if self.in_job and not self.quit:
            why = (end.killed(f"{gpus} ranks") or end.recorded
                   or (f"a rank exited with code {end.code}" if end.code else "the group ended"))
            self.emit(DIED, f"The {gpus}-GPU engine stopped: {why.rstrip('.')}. Your project and earlier takes are "
                            "safe; the next Generate starts the GPUs again.")
        return not self.quit and end.code != 130  # 130: this process was asked to stop (SIGTERM) meanwhile

    def _relay(self, address: str, key: bytes) -> None:
        conn = self._connect(address, key)
        if conn is None:
            return
        with conn:
            self._send(conn, self.first_job)
            # Until rank 0's end of the socket closes (it has exited: run_ranks returns only after every rank has),
            # so every event it sent, FINISHED included, is relayed before run() decides what to report.
            sources = [conn, self.commands]
            while True:
                ready = wait(sources, timeout=POLL_S)
                if conn in ready:
                    try:
                        event = conn.recv()
                    except (EOFError, OSError):
                        return  # rank 0 ended: the agent is stopping the group (run() says why)
                    if event[0] == ENDING:
                        sources = [conn]  # the editor's next job is for the next group: leave it in the pipe
                        continue
                    if event[0] == FINISHED:
                        self.in_job = False
                    self.emit(*event)
                elif ready:
                    try:
                        command = self.commands.recv()
                    except (EOFError, OSError):
                        command = ("quit",)  # the editor is gone: end the group
                        sources = [conn]
                    self.in_job = self.in_job or command[0] == "job"
                    self.quit = self.quit or command[0] == "quit"
                    self._send(conn, command)

    def _connect(self, address: str, key: bytes) -> Connection | None:
        """Wait for rank 0 to listen (ranks import torch, join the group), beating for it meanwhile: the editor
        ends an engine that shows no sign of life."""
        beat = 0.0
        while not self._stop.is_set():
            try:
                return Client(address, family="AF_UNIX", authkey=key)
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            beat += POLL_S
            if beat >= HEARTBEAT_S:
                beat = 0.0
                self.emit(HEARTBEAT)
            self._stop.wait(POLL_S)
        return None

    @staticmethod
    def _send(conn: Connection, command: tuple) -> None:
        try:
            conn.send(command)
        except OSError:
            pass  # rank 0 is gone: run() reports the group's end
