"""One M2V shot's denoising with full-size Wan2.2 A14B experts (random weights), per offload preset.

Measures, side by side in one run on one machine: seconds per denoising step (CFG: two passes)
and peak VRAM for each offload preset, for M2V with M memory frames and for plain I2V (M = 0) of
the same shot, plus the achieved TFLOP/s against the compute floor in the method card.

    python bench/gpu_m2v.py                       # on a CUDA machine: 832x480, 81 frames, M = 10
    python bench/gpu_m2v.py --tiny                # the same code on tiny models, on a CPU (a check)

Random weights of the real architecture time exactly like trained ones (same shapes, same kernels).
The text encoder is left out (prompt embeddings are random [1, 512, 4096]): it runs once per shot,
not per step. The StoryMem LoRA (r = 128 on all 400 target linears per expert) is loaded, so its
cost is included.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

A14B = dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=36, out_channels=16,
            text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
TINY = dict(A14B, num_attention_heads=2, attention_head_dim=12, text_dim=32, ffn_dim=32, num_layers=2)
TEXT_LEN = 512


def random_transformer(config: dict, dtype, seed: int):
    """Build on the meta device and fill with random values: no 56 GB fp32 detour."""
    import torch
    from diffusers import WanTransformer3DModel

    with torch.device("meta"):
        model = WanTransformer3DModel(**config)
    model = model.to_empty(device="cpu").to(dtype)
    # As from_pretrained(torch_dtype=bf16) does: norms, time embedder and modulation stay fp32.
    keep = set(model._keep_in_fp32_modules or [])
    for name, module in model.named_modules():
        if keep & set(name.split(".")):
            module.float()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02, generator=gen)
    # The rope angle tables are buffers that were created on meta: rebuild them as real angles.
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    model.rope = WanRotaryPosEmbed(config["attention_head_dim"], config["patch_size"], config["rope_max_seq_len"])
    return model.eval()


def storymem_lora(config: dict, rank: int, seed: int) -> dict:
    import torch

    dim = config["num_attention_heads"] * config["attention_head_dim"]
    shapes = {f"{a}.{p}": (dim, dim) for a in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes.update({"ffn.0": (dim, config["ffn_dim"]), "ffn.2": (config["ffn_dim"], dim)})
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for n in range(config["num_layers"]):
        for module, (fan_in, fan_out) in shapes.items():
            key = f"base_model.model.blocks.{n}.{module}"
            state[f"{key}.lora_A.weight"] = torch.randn(rank, fan_in, generator=gen, dtype=torch.bfloat16) * 0.01
            state[f"{key}.lora_B.weight"] = torch.zeros(fan_out, rank, dtype=torch.bfloat16)
    return state


def flops_per_pass(config: dict, tokens: int, text_tokens: int = TEXT_LEN) -> float:
    dim = config["num_attention_heads"] * config["attention_head_dim"]
    # Per video token: self-attn q,k,v,o + cross-attn q,o + FFN; cross-attn k,v run on the text only.
    per_block_linear = 6 * dim * dim + 2 * dim * config["ffn_dim"]
    linear = 2 * (tokens * per_block_linear + text_tokens * 2 * dim * dim) * config["num_layers"]
    attention = config["num_layers"] * (4 * tokens * tokens * dim + 4 * tokens * text_tokens * dim)
    return float(linear + attention)


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU: checks the script itself")
    parser.add_argument("--presets", default="full_gpu,model_offload,group_offload,sequential")
    parser.add_argument("--memory", type=int, default=10)
    parser.add_argument("--size", default="832x480")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--steps", type=int, default=2, help="denoising steps timed per run (first is warm-up)")
    args = parser.parse_args()

    from storymem_engine.conditioning import build_memory_condition
    from storymem_engine.lora import load_storymem_lora
    from storymem_engine.models import apply_offload, check_offload, release_offload
    from storymem_engine.pipeline import StoryMemPipeline
    from storymem_engine.rope import install_memory_rope

    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda and not args.tiny:
        print("no CUDA device: run with --tiny to check the script on a CPU", file=sys.stderr)
        return 2
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    config = TINY if args.tiny else A14B
    width, height = (64, 48) if args.tiny else (int(v) for v in args.size.split("x"))
    frames = 9 if args.tiny else args.frames
    presets = ["full_gpu"] if args.tiny else [check_offload(p) for p in args.presets.split(",")]

    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler

    t0 = time.perf_counter()
    vae = (AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True]) if args.tiny else AutoencoderKLWan()).eval()
    experts = [random_transformer(config, dtype, seed) for seed in (1, 2)]
    rank = 4 if args.tiny else 128
    for i, expert in enumerate(experts):
        load_storymem_lora(expert, storymem_lora(config, rank, seed=10 + i))
        install_memory_rope(expert, stride=1)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=4.0)
    pipe = StoryMemPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler, transformer=experts[0],
                            transformer_2=experts[1], boundary_ratio=0.9, image_encoder=None, image_processor=None)
    pipe.set_progress_bar_config(disable=True)
    print(f"built {'tiny' if args.tiny else 'A14B'} experts + VAE in {time.perf_counter() - t0:.1f}s", flush=True)

    gen = torch.Generator().manual_seed(0)
    embeds = torch.randn(1, TEXT_LEN, config["text_dim"], generator=gen).to(dtype)
    images = [torch.rand(3, height, width, generator=gen) * 2 - 1 for _ in range(args.memory)]
    latent_frames = (frames - 1) // 4 + 1
    per_frame = (height // 16) * (width // 16)
    rows = []
    for preset in presets:
        for memory in (args.memory, 0):
            apply_offload(pipe, preset, device)
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            with torch.no_grad():
                condition = build_memory_condition(vae, images[:memory], frames, height, width)
            stamps: list[float] = []

            def on_step(_p, i, t, kw, stamps=stamps):
                if cuda:
                    torch.cuda.synchronize()
                stamps.append(time.perf_counter())
                return {}

            start = time.perf_counter()
            try:
                pipe.generate_with_memory(condition, memory, frames, height=height, width=width,
                                          prompt_embeds=embeds, negative_prompt_embeds=embeds,
                                          num_inference_steps=args.steps, guidance_scale=3.5,
                                          callback_on_step_end=on_step)
            except torch.cuda.OutOfMemoryError:
                rows.append((preset, memory, float("nan"), float("nan"), "OOM"))
                release_offload(pipe, preset)
                continue
            steps = [b - a for a, b in zip([start, *stamps], stamps, strict=False)]
            per_step = min(steps[1:]) if len(steps) > 1 else steps[0]
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
            rows.append((preset, memory, per_step, peak, ""))
            release_offload(pipe, preset)

    print(f"\nM2V denoising, {width}x{height}, {frames} frames, steps timed: {args.steps} (best after warm-up)")
    print(f"{'preset':<15}{'M':>4}{'tokens':>9}{'s/step':>9}{'40 steps':>10}{'peak GiB':>10}{'TFLOP/s':>9}")
    base = {}
    for preset, memory, per_step, peak, note in rows:
        tokens = (memory + latent_frames) * per_frame
        tflops = 2 * flops_per_pass(config, tokens) / per_step / 1e12 if per_step == per_step else float("nan")
        print(f"{preset:<15}{memory:>4}{tokens:>9}{per_step:>9.2f}{per_step * 40:>10.1f}{peak:>10.1f}"
              f"{tflops:>9.1f} {note}")
        if memory == 0:
            base[preset] = per_step
    for preset, memory, per_step, _, _ in rows:
        if memory and preset in base and base[preset] == base[preset]:
            print(f"ratio M2V (M={memory}) / plain I2V, {preset}: {per_step / base[preset]:.2f}x")
    if not args.tiny:
        floor = 40 * 2 * flops_per_pass(config, (args.memory + latent_frames) * per_frame) / 800e12
        print(f"compute floor for 40 steps at 800 TFLOP/s: {floor:.0f} s per shot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
