"""One shot across several processes (GPUs) with diffusers' context parallelism.

Every rank loads the same models and runs the same pipeline with the same seed; inside each expert the video
tokens are split across the ranks (diffusers' `_cp_plan` for the Wan transformer: the RoPE tables and the
first block's input are sharded on the sequence dimension, `proj_out` is all-gathered), so every rank ends
each step with the whole latent and the scheduler steps stay identical on all ranks. Ulysses attention
all-to-alls the heads (the head count must divide by the degree); ring attention passes K/V around.

NCCL on CUDA, gloo on the CPU. The CPU path exists to test the same code without GPUs: diffusers asks
`torch.accelerator.device_count()`, which is 0 on a CPU-only machine, so a shim reporting one device is
applied only when STORYMEM_CPU_PARALLEL_TEST=1 (never on the GPU path).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from datetime import timedelta

from storymem_engine.engine import EngineError
from storymem_engine.multi_gpu import CPU_TEST_ENV, PARALLEL_MODES

# A shot's first collective waits for the slowest rank to load its experts: N ranks reading the A14B weights from
# one disk at once can take longer than NCCL's default 10 minutes.
COLLECTIVE_TIMEOUT = timedelta(minutes=60)


class ParallelError(EngineError):
    """A context-parallel setup or split that cannot work, with what to change."""


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def local_device() -> str:
    """This rank's device: cuda:LOCAL_RANK when CUDA is present, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cpu"


def init_process_group() -> None:
    """Join the group torchrun set up (RANK, WORLD_SIZE, MASTER_ADDR in the environment): NCCL or gloo."""
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        device = torch.device(local_device())
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device, timeout=COLLECTIVE_TIMEOUT)
    else:
        dist.init_process_group("gloo", timeout=COLLECTIVE_TIMEOUT)


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _cpu_device_count_shim() -> None:
    """TEST ONLY: make diffusers' parallel setup run on gloo (it computes ``rank % device_count()``)."""
    import torch

    if os.environ.get(CPU_TEST_ENV) != "1":
        raise ParallelError("Context parallelism runs on CUDA GPUs (one process per GPU); no CUDA device was "
                            "found. Render without --gpus on this machine.")
    torch.accelerator.device_count = lambda: 1


def context_parallel_config(mode: str, degree: int):
    from diffusers import ContextParallelConfig

    if mode not in PARALLEL_MODES:
        raise ParallelError(f"unknown parallel mode {mode!r} (expected one of: {', '.join(PARALLEL_MODES)})")
    if mode == "ring":
        return ContextParallelConfig(ring_degree=degree)
    return ContextParallelConfig(ulysses_degree=degree)


# Ring attention merges partial results with their log-sum-exp; diffusers' "native" SDPA backend does not return it.
RING_BACKENDS = ("flash", "sage", "_native_flash", "_native_cudnn")


def enable_context_parallel(experts: Sequence, mode: str, backend: str = "native") -> None:
    """Split both experts' tokens across every rank of the process group (call once per loaded pipeline).

    ``backend``: the attention kernel the experts use; ring attention on plain SDPA switches to PyTorch's
    flash SDPA kernel (the one SDPA itself picks for bf16 on CUDA), which returns the log-sum-exp ring needs.
    """
    import torch

    degree = world_size()
    if degree < 2:
        raise ParallelError("context parallelism needs a process group of 2 or more ranks (render --gpus N)")
    on_cuda = torch.cuda.is_available()
    if not on_cuda:
        _cpu_device_count_shim()
    if mode == "ring" and backend not in RING_BACKENDS:
        if not on_cuda:
            raise ParallelError("ring attention needs a kernel that returns its log-sum-exp (flash-attn, "
                                "SageAttention or PyTorch's flash SDPA, all CUDA only); use --parallel ulysses here.")
        for expert in experts:
            expert.set_attention_backend("_native_flash")
    # diffusers' all-gather calls a deprecated torch collective, a warning on every rank: not the user's concern.
    warnings.filterwarnings("ignore", message=".*all_gather_tensor.*deprecated", category=FutureWarning)
    for expert in experts:
        heads = int(expert.config.num_attention_heads)
        if mode == "ulysses" and heads % degree:
            divisors = [d for d in range(2, heads + 1) if heads % d == 0 and d <= 16]
            raise ParallelError(f"Ulysses attention splits the {heads} attention heads across the GPUs: {degree} "
                                f"does not divide {heads}. Use --gpus {' / '.join(map(str, divisors))}, or "
                                "--parallel ring.")
        expert.enable_parallelism(config=context_parallel_config(mode, degree))
        # Before diffusers' own split (which only asserts): a token count that does not divide is a message.
        expert.register_forward_pre_hook(_check_token_split, with_kwargs=True)


def token_split_problem(shape: Sequence[int], patch: Sequence[int], memory_frames: int, degree: int) -> str:
    """Why a latent of ``shape`` [B, C, F, H, W] cannot be split evenly across ``degree`` ranks ("" when it can)."""
    _, _, frames, height, width = shape
    pt, ph, pw = patch
    t, h, w = frames // pt, height // ph, width // pw
    tokens = t * h * w
    if tokens % degree == 0:
        return ""
    fits = [d for d in range(2, degree) if tokens % d == 0]
    other = f", or use --gpus {' / '.join(map(str, fits))}" if fits else ""
    return (f"context parallelism splits each step's {tokens} video tokens ({t} latent frames, {memory_frames} of "
            f"them memory, x {h}x{w} patches) across {degree} GPUs, and {tokens} does not divide by {degree}. "
            f"Change the frame count, the size or --max-memory so that the latent frames (memory + shot) or the "
            f"patch grid divide by {degree}{other}.")


def _check_token_split(module, args, kwargs) -> None:
    hidden = args[0] if args else kwargs["hidden_states"]
    memory = getattr(module.rope, "num_memory_frames", 0)
    problem = token_split_problem(hidden.shape, module.config.patch_size, memory, world_size())
    if problem:
        raise ParallelError(problem)


def broadcast_object(value=None, src: int = 0):
    """``value`` from rank ``src`` on every rank (pickled; on NCCL through this rank's GPU)."""
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def shard_weights(experts: Sequence) -> None:
    """FSDP2 over every rank of the group: each rank keeps 1/N of each expert's weights (LoRA layers included) on
    its device, and each transformer block is gathered whole just before it runs and freed after it.

    Block by block first, then the rest of the expert: each call moves only that part to the GPU before sharding
    it, so no rank ever holds a whole expert on its GPU.
    """
    import torch
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cuda" if torch.cuda.is_available() else "cpu", (world_size(),))
    for expert in experts:
        # Resharded after every forward, the root too (FSDP2 keeps a root gathered by default, for a backward pass
        # that inference never runs).
        for block in expert.blocks:
            fully_shard(block, mesh=mesh, reshard_after_forward=True)
        fully_shard(expert, mesh=mesh, reshard_after_forward=True)


def is_sharded(module) -> bool:
    try:
        from torch.distributed.fsdp import FSDPModule
    except ImportError:  # a torch built without distributed support shards nothing
        return False
    return isinstance(module, FSDPModule)
