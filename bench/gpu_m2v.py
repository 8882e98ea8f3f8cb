"""One M2V shot with full-size Wan2.2 A14B parts (random weights), per offload preset, each in its own process.

    python bench/gpu_m2v.py --quick        # on a CUDA machine: full_gpu, model_offload, fp8_offload (~3 min)
    python bench/gpu_m2v.py                # every preset (~6 min on one H100/H200)
    python bench/gpu_m2v.py --tiny         # the same code on tiny models, on a CPU (a check; a test runs it)
    python bench/gpu_m2v.py --profiles final,draft   # each preset per quality profile (default: final;
                                                     # --tiny runs both)

For each preset a child process builds two experts with the rank-128 StoryMem LoRA and the memory RoPE, a
UMT5-XXL text encoder and the Wan VAE, with random weights made directly on the GPU (then moved to the CPU
for the presets that start there, as the app's do), applies the preset with the engine's own apply_offload,
and generates one shot: prompt encoding, the memory condition (VAE encode), 4 denoising steps with CFG (2
per expert: the first call of each expert is its warm-up, the second its steady step), and the decode. A
row is printed and flushed as soon as a preset is measured, so a crash or timeout keeps the rows before it.

With the draft profile the same child then loads a rank-64 distilled LoRA in lightx2v's layout (random values,
the published key names and shapes) as the second adapter on both experts, exactly as the engine does on a
first draft shot, and generates the draft shot: lightx2v's 4-step Euler schedule at shift 5, CFG off.

Columns: the profile, steady seconds per step of each expert, the first-call overhead (expert swap,
un-prefetched groups), seconds per shot (final: a 40-step estimate from the official schedule, how many steps
each expert runs; draft: the 4-step shot as measured, prompt to decoded frames), peak GPU memory allocated and
reserved during that shot, what was resident before it, and the process's peak RAM so far. Random weights of
the real architecture time exactly like trained ones (same shapes, same kernels).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storymem_engine.accounting import A14B_TRANSFORMER as A14B  # noqa: E402 - after the sys.path line
from storymem_engine.accounting import UMT5_XXL  # noqa: E402

TINY = dict(A14B, num_attention_heads=2, attention_head_dim=12, text_dim=32, ffn_dim=32, num_layers=2)
UMT5_TINY = dict(vocab_size=300, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, dropout_rate=0.0)
QUICK = ("full_gpu", "model_offload", "fp8_offload")
STEPS = 4  # shift 4, boundary 0.9: timesteps 999, 922 (high-noise expert), 799, 571 (low-noise expert)
# The draft shot: lightx2v's schedule (timesteps 1000, 937.5 high-noise; 833.3, 625 low-noise), no CFG.
DRAFT_RANK = 64


def storymem_lora(config: dict, rank: int, seed: int, device) -> dict:
    import torch

    dim = config["num_attention_heads"] * config["attention_head_dim"]
    shapes = {f"{a}.{p}": (dim, dim) for a in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes.update({"ffn.0": (dim, config["ffn_dim"]), "ffn.2": (config["ffn_dim"], dim)})
    gen = torch.Generator(device).manual_seed(seed)
    state = {}
    for n in range(config["num_layers"]):
        for module, (fan_in, fan_out) in shapes.items():
            key = f"base_model.model.blocks.{n}.{module}"
            state[f"{key}.lora_A.weight"] = torch.randn(rank, fan_in, generator=gen, device=device) * 0.01
            state[f"{key}.lora_B.weight"] = torch.zeros(fan_out, rank, device=device)
    return state


def random_module(build, device, dtype, seed: int):
    """Build on the meta device, allocate on `device` and fill with noise there: no 56 GB fp32 detour."""
    import torch

    with torch.device("meta"):
        module = build()
    module = module.to_empty(device=device).to(dtype)
    keep = set(getattr(module, "_keep_in_fp32_modules", None) or [])
    for name, sub in module.named_modules():
        if keep & set(name.split(".")):
            sub.float()
    gen = torch.Generator(device).manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.02, generator=gen)
    return module.eval()


def build_expert(config: dict, device, dtype, seed: int, lora_rank: int, fp8: bool):
    from diffusers import WanTransformer3DModel
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    from storymem_engine.lora import load_storymem_lora
    from storymem_engine.models import store_in_fp8
    from storymem_engine.rope import install_memory_rope

    expert = random_module(lambda: WanTransformer3DModel(**config), device, dtype, seed)
    # The rope's angle tables were made on the meta device: rebuild them, then the memory RoPE over them.
    expert.rope = WanRotaryPosEmbed(config["attention_head_dim"], config["patch_size"], config["rope_max_seq_len"])
    install_memory_rope(expert, stride=1)
    expert.rope.to(device)
    load_storymem_lora(expert, storymem_lora(config, lora_rank, seed + 10, device))
    if fp8:
        store_in_fp8(expert, dtype)
    return expert


def official_high_steps(steps: int = 40, shift: float = 4.0, boundary: float = 0.9) -> int:
    import numpy as np

    sigmas = np.linspace(float(np.float32(0.999)), 0.0, steps + 1)[:-1]
    sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    return int(sum(int(s * 1000) >= boundary * 1000 for s in sigmas))


def child(args) -> int:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler
    from transformers import UMT5Config, UMT5EncoderModel

    from storymem_engine.models import FP8_PRESETS, apply_offload
    from storymem_engine.pipeline import StoryMemPipeline
    from storymem_engine.request import PROFILES
    from storymem_engine.sampling import reference_scheduler
    from storymem_engine.tiny import _tokenizer

    preset = args.child
    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    config = TINY if args.tiny else A14B
    width, height = (64, 48) if args.tiny else (int(v) for v in args.size.split("x"))
    frames = 9 if args.tiny else args.frames
    t0 = time.perf_counter()
    fp8 = preset in FP8_PRESETS
    experts = [build_expert(config, device, dtype, seed, 4 if args.tiny else 128, fp8) for seed in (1, 2)]
    encoder = random_module(lambda: UMT5EncoderModel(UMT5Config(**(UMT5_TINY if args.tiny else UMT5_XXL))),
                            device, dtype, 3)
    encoder.encoder.embed_tokens.weight = encoder.shared.weight  # tied in UMT5; to_empty untied them (+2 GiB)
    vae = random_module(lambda: AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                                 temperal_downsample=[False, True, True]) if args.tiny
                        else AutoencoderKLWan(), device, torch.float32, 4)
    if preset != "full_gpu":
        for module in (*experts, encoder, vae):
            module.to("cpu")  # offload presets start from the CPU, as in the app
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    pipe = StoryMemPipeline(tokenizer=_tokenizer(), text_encoder=encoder, vae=vae,
                            scheduler=reference_scheduler(UniPCMultistepScheduler().config, 4.0),
                            transformer=experts[0], transformer_2=experts[1], boundary_ratio=0.9,
                            image_encoder=None, image_processor=None)
    pipe.set_progress_bar_config(disable=True)
    apply_offload(pipe, preset, device, text_encoder_on_cpu=args.text_encoder_on_cpu)
    built = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(0)
    images = [torch.rand(3, height, width, generator=gen) * 2 - 1 for _ in range(args.memory)]
    # Final first, then draft: the distill pair loads on the first draft shot, as in the app.
    for profile in sorted(set(args.profiles.split(",")), key=PROFILES.index):
        if profile == "draft":
            add_distill(pipe, preset, device, dtype, config, 4 if args.tiny else DRAFT_RANK, args.text_encoder_on_cpu)
        measure(pipe, preset, profile, images, args, device, cuda, frames, height, width, built)
    return 0


def add_distill(pipe, preset: str, device, dtype, config: dict, rank: int, encoder_on_cpu: bool) -> None:
    """The distilled LoRA pair as the engine loads it on a first draft shot (hooks off for the low-VRAM presets)."""
    from storymem_engine.lora import load_distill_lora
    from storymem_engine.models import LOW_VRAM_PRESETS, apply_offload, release_offload
    from storymem_engine.tiny import distill_lora_state

    if preset in LOW_VRAM_PRESETS:
        release_offload(pipe, preset)
    dims = dict(num_layers=config["num_layers"], dim=config["num_attention_heads"] * config["attention_head_dim"],
                ffn_dim=config["ffn_dim"], text_dim=config["text_dim"], freq_dim=config["freq_dim"],
                out_channels=config["out_channels"], rank=rank)
    for seed, expert in enumerate((pipe.transformer, pipe.transformer_2)):
        load_distill_lora(expert, distill_lora_state(config["in_channels"], seed=20 + seed, **dims), dtype=dtype)
    if preset in LOW_VRAM_PRESETS:
        apply_offload(pipe, preset, device, text_encoder_on_cpu=encoder_on_cpu)


def measure(pipe, preset: str, profile: str, images, args, device, cuda: bool, frames: int, height: int, width: int,
            built: float) -> None:
    import torch
    from diffusers import UniPCMultistepScheduler

    from storymem_engine.conditioning import build_memory_condition
    from storymem_engine.request import DRAFT_GUIDANCE, DRAFT_SHIFT, WAN_NEGATIVE_PROMPT
    from storymem_engine.sampling import draft_scheduler, reference_scheduler

    draft = profile == "draft"
    guidance = DRAFT_GUIDANCE if draft else 3.5
    pipe.scheduler = (draft_scheduler(DRAFT_SHIFT) if draft
                      else reference_scheduler(UniPCMultistepScheduler().config, 4.0))
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    resident = torch.cuda.memory_allocated() / 2**30 if cuda else float("nan")

    start_shot = time.perf_counter()
    with torch.no_grad():
        condition = build_memory_condition(pipe.vae, images, frames, height, width)
    condition_s = time.perf_counter() - start_shot
    stamps: list[float] = []

    def on_step(_p, i, t, kw):
        if cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        return {}

    encoder_on_cpu = args.text_encoder_on_cpu or preset == "sequential"
    prompt = dict(prompt="a lighthouse keeper climbs the stairs at dusk", negative_prompt=WAN_NEGATIVE_PROMPT)
    if encoder_on_cpu:
        from storymem_engine.models import encode_prompt_on_cpu

        embeds, negative = encode_prompt_on_cpu(pipe, prompt["prompt"], prompt["negative_prompt"], guidance)
        prompt = dict(prompt_embeds=embeds.to(device),
                      negative_prompt_embeds=negative.to(device) if negative is not None else None)
    with torch.no_grad():
        pipe.generate_with_memory(condition, args.memory, frames, height=height, width=width, num_inference_steps=STEPS,
                                  guidance_scale=guidance, guidance_scale_2=guidance, callback_on_step_end=on_step,
                                  generator=torch.Generator(device).manual_seed(0), **prompt)
    if cuda:
        torch.cuda.synchronize()
    end = time.perf_counter()
    # The first stamp comes after prompt encoding and the first high-noise step; the decode follows the last.
    steps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]  # steps 2, 3, 4
    high, swap_low, low = steps[0], steps[1], steps[2]
    decode_s = end - stamps[-1]
    if draft:
        shot = end - start_shot  # the whole 4-step draft shot, as measured
    else:
        n_high = official_high_steps()
        shot = n_high * high + (40 - n_high) * low + (swap_low - low) + condition_s + decode_s
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    reserved = torch.cuda.max_memory_reserved() / 2**30 if cuda else float("nan")
    ram = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    tokens = (args.memory + (frames - 1) // 4 + 1) * (height // 16) * (width // 16)
    print(f"ROW {preset:<15}{profile:<7}{tokens:>7}{high:>8.2f}{low:>8.2f}{swap_low - low:>8.2f}{shot:>9.1f}"
          f"{peak:>8.1f}{reserved:>9.1f}{resident:>9.1f}{ram:>8.1f}   condition {condition_s:.1f}s, "
          f"decode {decode_s:.1f}s, built in {built:.0f}s", flush=True)


HEADER = (f"{'preset':<15}{'profile':<7}{'tokens':>7}{'high s':>8}{'low s':>8}{'swap s':>8}{'shot s':>9}{'alloc':>8}"
          f"{'reserved':>9}{'resident':>9}{'RAM':>8}   (GiB; steady seconds per step, CFG on for final, off for "
          "draft; shot s: final 40-step estimate, draft 4-step shot measured)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU: checks the script itself")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--presets", default=None, help="comma-separated presets (default: all)")
    parser.add_argument("--memory", type=int, default=10)
    parser.add_argument("--size", default="832x480")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--text-encoder-on-cpu", action="store_true")
    parser.add_argument("--profiles", default=None,
                        help="comma-separated quality profiles: final, draft (default: final; with --tiny both)")
    parser.add_argument("--timeout", type=int, default=420, help="seconds per preset")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profiles is None:
        args.profiles = "final,draft" if args.tiny else "final"
    if args.child:
        return child(args)

    from storymem_engine.models import OFFLOAD_PRESETS, check_offload

    if not args.tiny:
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device: run with --tiny to check the script on a CPU", file=sys.stderr)
            return 2
    presets = ([check_offload(p) for p in args.presets.split(",")] if args.presets
               else list(QUICK if args.quick else OFFLOAD_PRESETS))
    from storymem_engine.request import PROFILES

    profiles = args.profiles.split(",")
    if not profiles or any(p not in PROFILES for p in profiles):
        parser.error(f"--profiles takes a comma-separated list of {', '.join(PROFILES)}")
    shape = "tiny 64x48, 9 frames" if args.tiny else f"A14B {args.size}, {args.frames} frames"
    print(f"M2V shot, {shape}, M = {args.memory}, {STEPS} steps timed, one process per preset "
          f"(profiles: {', '.join(profiles)})", flush=True)
    print(HEADER, flush=True)
    failed = 0
    forwarded = ["--memory", str(args.memory), "--size", args.size, "--frames", str(args.frames), "--profiles",
                 args.profiles,
                 *(["--tiny"] if args.tiny else []), *(["--text-encoder-on-cpu"] if args.text_encoder_on_cpu else [])]
    for preset in presets:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", preset, *forwarded]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{preset:<15}timed out after {args.timeout}s", flush=True)
            failed += 1
            continue
        rows = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
        if done.returncode == 0 and len(rows) == len(set(profiles)):
            print("\n".join(rows), flush=True)
        else:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print("\n".join(rows + [f"{preset:<15}FAILED (exit {done.returncode}): {last}"]), flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
