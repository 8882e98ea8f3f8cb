"""M2V shots on the tiny engine for test_distributed.py: run in the test process, or as each rank of a torchrun
group (`python cp_shot_worker.py MODELS OUT.npz`, with context parallelism over the group).

For each memory RoPE stride in STRIDES, one M2V shot with MEMORY memory images: the denoised latents (memory
frames dropped, before the VAE) and the output frames; as ranks, again with the experts' weights sharded
(FSDP2). Run as ranks, rank 0 also records the messages of the two setups that must be refused (a token count
that does not split, ring attention without an LSE kernel).
"""

from __future__ import annotations

import sys

import numpy as np

STRIDES = (1, 3)
MEMORY = 2


def _request(stride: int, width: int = 64, height: int = 48, frames: int = 9):
    from storymem_engine.request import MODE_SCHEDULE, GenerationRequest

    shift, boundary = MODE_SCHEDULE["m2v"]
    return GenerationRequest(shot_id="s", prompt="a lighthouse at dusk", mode="m2v", seed=5, width=width,
                             height=height, num_frames=frames, steps=3, shift=shift, boundary_ratio=boundary,
                             engine="tiny", rope_stride=stride)


def _memory(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def run_shots(engine) -> dict[str, np.ndarray]:
    """64x48, 9 frames, 2 memory images: (2 + 3) latent frames x 3x4 patches = 60 tokens (30 per rank of 2)."""
    pipe = engine.load("m2v")
    seen = {}
    decode = pipe.decode_latents

    def record(latents):
        seen["latents"] = latents.float().cpu().numpy()
        return decode(latents)

    pipe.decode_latents = record
    results = {}
    for stride in STRIDES:
        for expert in (pipe.transformer, pipe.transformer_2):
            expert.rope.stride = stride  # what install_memory_rope sets at load for EngineSettings.rope_stride
        frames = engine.generate(_request(stride), memory=_memory(MEMORY))
        results[f"latents_{stride}"] = seen["latents"]
        results[f"frames_{stride}"] = frames
    pipe.decode_latents = decode
    return results


def main(models: str, out: str) -> None:
    from storymem_engine import distributed
    from storymem_engine.engine import EngineError, EngineSettings, StoryMemEngine

    distributed.init_process_group()
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=models, parallel="ulysses",
                                           keyframe_similarity="hsv"))
    results = run_shots(engine)
    messages = []
    try:  # 48x48, 5 frames, 1 memory image: (1 + 2) latent frames x 3x3 patches = 27 tokens, odd
        engine.generate(_request(1, width=48, height=48, frames=5), memory=_memory(1, 48, 48))
        messages.append("")
    except EngineError as exc:
        messages.append(str(exc))
    try:
        from storymem_engine.distributed import enable_context_parallel

        pipe = engine.load("m2v")
        enable_context_parallel((pipe.transformer, pipe.transformer_2), "ring", "native")
        messages.append("")
    except EngineError as exc:
        messages.append(str(exc))
    engine.unload()
    # The same shots with each expert's weights sharded across the ranks (FSDP2) on top of the token split.
    sharded = StoryMemEngine(EngineSettings(engine="tiny", models_dir=models, parallel="ulysses", shard_weights=True,
                                            offload="full_gpu", keyframe_similarity="hsv"))
    results.update({f"shard_{key}": value for key, value in run_shots(sharded).items()})
    import torch.distributed as dist

    params = list(sharded.load("m2v").transformer.parameters())
    # A DTensor's numel is the whole tensor's; to_local() is this rank's piece. FSDP2 splits dimension 0, so the
    # matrices (almost all of a real expert) halve; a tensor with one row stays whole on one rank.
    held = [p.to_local().numel() if hasattr(p, "to_local") else p.numel() for p in params]
    matrices = [(h, p.numel()) for h, p in zip(held, params, strict=True) if p.dim() == 2 and p.shape[0] >= 4]
    every_rank = [None] * distributed.world_size()
    dist.all_gather_object(every_rank, sum(held))
    if distributed.rank() == 0:
        np.savez(out, messages=np.array(messages), world=distributed.world_size(), held=np.array(every_rank),
                 whole=sum(p.numel() for p in params),
                 matrix_fraction=sum(h for h, _ in matrices) / sum(n for _, n in matrices), **results)
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    sys.stdout.flush()
    sys.stderr.flush()
    # As storymem_engine/rank_main.py: the results are written; the interpreter's teardown of gloo's and the device
    # mesh's process groups can still fail in one rank now and then, which would fail the run for nothing.
    import os

    os._exit(0)
