"""Each rank of the app's multi-GPU engine (started by engine_group.py): `python -m storymem_engine.group_rank MODE`.

Rank 0 runs the editor's queues exactly as the one-GPU engine process does (engine_process.serve_queue), talking
to its launcher over the socket in STORYMEM_GROUP_SOCKET; each engine it makes broadcasts its calls, so the other
ranks (multi_gpu.serve) make the same ones, every shot split across the GPUs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace


class GroupEngines:
    """Rank 0's engine factory for the queue runner: this rank's GPU, context parallelism, the host-RAM check for N
    copies of the models, and the wrapper that sends each call to the other ranks."""

    def __init__(self, parallel: str) -> None:
        self.parallel = parallel
        self.current = None

    def __call__(self, settings):
        from storymem_engine.distributed import local_device, world_size
        from storymem_engine.engine import EngineError, StoryMemEngine
        from storymem_engine.multi_gpu import BroadcastingEngine, GpuCountError, check_host_memory

        engine = StoryMemEngine(replace(settings, parallel=self.parallel, device=local_device()))
        if settings.engine == "wan" and settings.check_memory:
            from storymem_engine.accounting import this_machine

            try:
                check_host_memory(engine.settings.offload, world_size(), this_machine(), settings.text_encoder_on_cpu)
            except GpuCountError as exc:
                raise EngineError(f"{exc}; or fewer GPUs per shot in Settings > GPUs") from None
        self.current = BroadcastingEngine(engine)
        return self.current


def rank_zero(parallel: str) -> int:
    from multiprocessing.connection import Listener

    from storymem_engine.engine_group import KEY_ENV, SOCKET_ENV
    from storymem_engine.engine_process import serve_queue
    from storymem_engine.multi_gpu import finish
    from storymem_engine.queue_runner import QueueRunner

    engines = GroupEngines(parallel)
    with Listener(os.environ[SOCKET_ENV], family="AF_UNIX", authkey=bytes.fromhex(os.environ[KEY_ENV])) as listener:
        conn = listener.accept()
    with conn:
        serve_queue(conn, conn, lambda emit: QueueRunner(emit, make_engine=engines),
                    ended=lambda: engines.current is not None and bool(engines.current.broken))
    if engines.current is not None and engines.current.broken:
        # After a failure in the middle of a shot the ranks may stand at different collectives: end them all (the
        # shot was reported failed); the next job starts a new group.
        return 1
    finish()
    return 0


def main(argv: list[str]) -> int:
    from storymem_engine.distributed import rank
    from storymem_engine.multi_gpu import record_failure, serve, start_rank

    try:
        start_rank()
        return rank_zero(argv[0]) if rank() == 0 else serve()
    except Exception as exc:  # noqa: BLE001 - the launcher tells the editor this reason
        record_failure(exc)
        return 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as rank_main.py: no c10d teardown warnings after a cancel or a lost peer
