"""One M2V shot with full-size Wan2.2 A14B parts (random weights), per offload preset, each in its own process.

    python bench/gpu_m2v.py --quick        # on a CUDA machine: full_gpu, model_offload, fp8_offload, whole run
                                           # held to 8 minutes (--budget 480)
    python bench/gpu_m2v.py                # every preset (not timed end to end on a GPU yet)
    python bench/gpu_m2v.py --tiny         # the same code on tiny models, on a CPU (a check; a test runs it)
    python bench/gpu_m2v.py --profiles final,draft   # each preset per quality profile (default: final;
                                                     # --tiny runs both)
    python bench/gpu_m2v.py --quick --gpus 1,2,4,8   # each preset on 1, 2, 4 and 8 GPUs (context parallelism)
    python bench/gpu_m2v.py --tiny --gpus 1,2 --presets model_offload   # the same on 2 CPU ranks (gloo): a check

For each preset a child process builds two experts with the rank-128 StoryMem LoRA and the memory RoPE, a
UMT5-XXL text encoder and the Wan VAE, with random weights made directly on the GPU (then moved to the CPU
for the presets that start there, as the app's do), applies the preset with the engine's own apply_offload,
and generates one shot: prompt encoding, the memory condition (VAE encode), 4 denoising steps with CFG (2
per expert: the first call of each expert is its warm-up, the second its steady step), and the decode. A
row is printed and flushed as soon as a preset is measured, so a crash or timeout keeps the rows before it; a
preset that runs out of --timeout says the last stages it reached, with seconds since its start (built, moved to
the CPU, preset applied, condition encoded, each step), so the next run knows where the time goes. --budget caps
the whole run (--quick: 480 s per GPU count, the 8 minutes issue 11 gives a run on one GPU): each preset gets what
is left of it, a preset it cannot start says so, and the last line says how long the whole run took.

With the draft profile the same child then loads a rank-64 distilled LoRA in lightx2v's layout (random values,
the published key names and shapes) as the second adapter on both experts, exactly as the engine does on a
first draft shot, and generates the draft shot: lightx2v's 4-step Euler schedule at shift 5, CFG off.

With --gpus N (a comma list runs each count; default 1, one plain process as before) the child of a preset runs as
N ranks under torchrun (`python -m torch.distributed.run --standalone --nproc-per-node N`), one per GPU
(cuda:LOCAL_RANK): every rank builds the same models, and both experts get diffusers' context parallelism through
the engine's own storymem_engine.distributed (--parallel ulysses, the default, or ring), as `render --gpus N` does.
Rank 0 prints the row; every rank's peak memory is gathered to it and the row shows the largest. The presets
`render --gpus N` allows run on N > 1; sequential is refused with one line (PARALLEL_REFUSED below), and so is a
count whose N copies of an offload preset's models would not fit in the host's RAM. --shard-weights also shards
the experts' weights across the ranks (FSDP2; full_gpu only), as `render --shard-weights`. With --tiny the ranks
are CPU processes on gloo (1 thread each, the engine's test-only device-count shim): it checks the code, its times
say nothing.

Columns: the profile, the GPU count N, steady seconds per step of each expert, the first-call overhead (expert swap,
un-prefetched groups), seconds per shot (final: a 40-step estimate from the official schedule, how many steps
each expert runs; draft: the 4-step shot as measured, prompt to decoded frames), the scaling efficiency
t(1) / (N * t(N)) on the steady step time (high + low; "-" unless N = 1 ran in the same invocation for that preset
and profile), peak GPU memory allocated and reserved during that shot, what was resident before it, and the
process's peak RAM so far (with N > 1: each the largest over the ranks, per GPU / per process). Random weights of
the real architecture time exactly like trained ones (same shapes, same kernels).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import signal
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
QUICK_BUDGET = 480  # issue 11: a --quick run fits in 8 minutes on one H100
MIN_PRESET_S = 20  # less than this left of the budget: a child would not get past its imports
STOP_GRACE_S = 10  # a timed-out child's time to stop after SIGTERM (torchrun stops its ranks) before SIGKILL
STEPS = 4  # shift 4, boundary 0.9: timesteps 999, 922 (high-noise expert), 799, 571 (low-noise expert)
# The draft shot: lightx2v's schedule (timesteps 1000, 937.5 high-noise; 833.3, 625 low-noise), no CFG.
DRAFT_RANK = 64
# The presets run with --gpus N > 1, as `render --gpus N` allows them: each rank holds its own whole copy of the
# models (on its GPU or in RAM). group_offload's streamed groups are unchecked with context parallelism on CUDA (on
# 2 CPU ranks, without streams, it matches one process): this bench is where that shows.
PARALLEL_PRESETS = ("full_gpu", "model_offload", "fp8_offload", "group_offload")
# Refused on N > 1 (one line as the row), as the engine refuses it.
PARALLEL_REFUSED = {
    "sequential": "accelerate's per-module hooks are unchecked with context parallelism (on a CPU they never run)",
}


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


_T0 = time.perf_counter()


def stage(what: str) -> None:
    """A child's progress, flushed as it happens: a preset that times out says how far it got and when."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"STAGE {time.perf_counter() - _T0:.0f}s {what}", flush=True)


def official_high_steps(steps: int = 40, shift: float = 4.0, boundary: float = 0.9) -> int:
    import numpy as np

    sigmas = np.linspace(float(np.float32(0.999)), 0.0, steps + 1)[:-1]
    sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    return int(sum(int(s * 1000) >= boundary * 1000 for s in sigmas))


def child(args) -> int:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler
    from transformers import UMT5Config, UMT5EncoderModel

    from storymem_engine import distributed
    from storymem_engine.models import FP8_PRESETS, apply_offload
    from storymem_engine.pipeline import StoryMemPipeline
    from storymem_engine.request import PROFILES
    from storymem_engine.sampling import reference_scheduler
    from storymem_engine.tiny import _tokenizer

    preset = args.child
    cuda = torch.cuda.is_available() and not args.tiny
    ranks = int(os.environ.get("WORLD_SIZE", "1"))
    if ranks > 1:
        from storymem_engine.multi_gpu import die_with_launcher

        die_with_launcher()  # a timed-out or killed launcher leaves no rank behind
        distributed.init_process_group()  # NCCL on CUDA (this rank's GPU), gloo on the CPU
    device = torch.device((distributed.local_device() if ranks > 1 else "cuda") if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    config = TINY if args.tiny else A14B
    width, height = (64, 48) if args.tiny else (int(v) for v in args.size.split("x"))
    frames = 9 if args.tiny else args.frames
    t0 = time.perf_counter()
    fp8 = preset in FP8_PRESETS
    experts = [build_expert(config, device, dtype, seed, 4 if args.tiny else 128, fp8) for seed in (1, 2)]
    stage("experts built")
    encoder = random_module(lambda: UMT5EncoderModel(UMT5Config(**(UMT5_TINY if args.tiny else UMT5_XXL))),
                            device, dtype, 3)
    encoder.encoder.embed_tokens.weight = encoder.shared.weight  # tied in UMT5; to_empty untied them (+2 GiB)
    vae = random_module(lambda: AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                                 temperal_downsample=[False, True, True]) if args.tiny
                        else AutoencoderKLWan(), device, torch.float32, 4)
    stage("text encoder and VAE built")
    if preset != "full_gpu":
        for module in (*experts, encoder, vae):
            module.to("cpu")  # offload presets start from the CPU, as in the app
        stage("moved to the CPU")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
    pipe = StoryMemPipeline(tokenizer=_tokenizer(), text_encoder=encoder, vae=vae,
                            scheduler=reference_scheduler(UniPCMultistepScheduler().config, 4.0),
                            transformer=experts[0], transformer_2=experts[1], boundary_ratio=0.9,
                            image_encoder=None, image_processor=None)
    pipe.set_progress_bar_config(disable=True)
    if ranks > 1:
        # As the engine does: both experts split before the preset's hooks go on (engine.load, then _activate).
        distributed.enable_context_parallel(experts, args.parallel)
        if args.shard_weights:
            distributed.shard_weights(experts)  # as the engine with --shard-weights: 1/N of each expert per GPU
    apply_offload(pipe, preset, device, text_encoder_on_cpu=args.text_encoder_on_cpu)
    built = time.perf_counter() - t0
    stage(f"{preset} applied")
    gen = torch.Generator().manual_seed(0)
    images = [torch.rand(3, height, width, generator=gen) * 2 - 1 for _ in range(args.memory)]
    # Final first, then draft: the distill pair loads on the first draft shot, as in the app.
    for profile in sorted(set(args.profiles.split(",")), key=PROFILES.index):
        if profile == "draft":
            add_distill(pipe, preset, device, dtype, config, 4 if args.tiny else DRAFT_RANK, args.text_encoder_on_cpu)
        row = measure(pipe, preset, profile, images, args, device, cuda, frames, height, width, built)
        if ranks > 1:
            import torch.distributed as dist

            # Every rank's peaks (its own GPU, its own process) to rank 0, which reports the largest.
            peaks = [None] * ranks
            dist.all_gather_object(peaks, {k: row[k] for k in MAX_OVER_RANKS})
            row.update({k: max(p[k] for p in peaks) for k in MAX_OVER_RANKS})
        if distributed.rank() == 0:
            print("ROW " + json.dumps(row), flush=True)
    distributed.shutdown()
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
            built: float) -> dict:
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
    stage(f"{profile}: memory condition encoded")
    stamps: list[float] = []

    def on_step(_p, i, t, kw):
        if cuda:
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        stage(f"{profile}: step {i + 1}")
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
    return dict(preset=preset, profile=profile, gpus=int(os.environ.get("WORLD_SIZE", "1")), tokens=tokens,
                high=high, low=low, swap=swap_low - low, shot=shot, alloc=peak, reserved=reserved, resident=resident,
                ram=ram, condition=condition_s, decode=decode_s, built=built)


MAX_OVER_RANKS = ("alloc", "reserved", "resident", "ram")


def format_row(row: dict, efficiency: float | None) -> str:
    eff = "-" if efficiency is None else f"{efficiency:.2f}"
    return (f"{row['preset']:<15}{row['profile']:<7}{row['gpus']:>5}{row['tokens']:>7}{row['high']:>8.2f}"
            f"{row['low']:>8.2f}{row['swap']:>8.2f}{row['shot']:>9.1f}{eff:>6}{row['alloc']:>8.1f}"
            f"{row['reserved']:>9.1f}{row['resident']:>9.1f}{row['ram']:>8.1f}   condition {row['condition']:.1f}s, "
            f"decode {row['decode']:.1f}s, built in {row['built']:.0f}s")


def scaling_efficiency(one: dict | None, row: dict) -> float | None:
    """t(1) / (N * t(N)) on the steady step time (both experts' steady steps), against N = 1 of this run."""
    if one is None:
        return None
    return (one["high"] + one["low"]) / (row["gpus"] * (row["high"] + row["low"]))


HEADER = (f"{'preset':<15}{'profile':<7}{'GPUs':>5}{'tokens':>7}{'high s':>8}{'low s':>8}{'swap s':>8}{'shot s':>9}"
          f"{'eff':>6}{'alloc':>8}{'reserved':>9}{'resident':>9}{'RAM':>8}   (GiB, with N > 1 the largest over the "
          "ranks, per GPU / per process; steady seconds per step, CFG on for final, off for draft; shot s: final "
          "40-step estimate, draft 4-step shot measured; eff: t(1) / (N t(N)) on the steady step, high + low)")


def host_ram_problem(preset: str, gpus: int, usable_gib: float, text_encoder_on_cpu: bool) -> str:
    """Why `gpus` ranks of an offload preset would not fit in the host's RAM ("" when they do).

    Each rank keeps its own copy of the models in RAM (the engine's per-process figure, as `render --gpus N`
    checks it); full_gpu builds its models on the GPU here and holds little RAM.
    """
    from storymem_engine.accounting import preset_needs

    if preset == "full_gpu":
        return ""
    each = preset_needs(preset, text_encoder_on_cpu=text_encoder_on_cpu).ram_gib
    if each * gpus <= usable_gib:
        return ""
    return (f"{gpus} ranks x {each:.1f} GiB of RAM each ({preset} keeps the models in RAM) = {each * gpus:.1f} GiB; "
            f"this machine has {usable_gib:.1f} GiB usable")


def time_for_preset(timeout: int, budget: int | None, elapsed: float) -> int | None:
    """A preset's timeout within what is left of the whole run's budget (its stop grace kept aside); None when too
    little is left to start one."""
    if budget is None:
        return timeout
    left = int(budget - elapsed) - STOP_GRACE_S
    return min(timeout, left) if left >= MIN_PRESET_S else None


def parse_gpus(text: str) -> list[int]:
    counts = sorted({int(v) for v in text.split(",") if v.strip()})
    if not counts or counts[0] < 1:
        raise ValueError(text)
    return counts


def run_child(command: list[str], env: dict, timeout: int) -> tuple[int | None, str, str]:
    """(exit code, stdout, stderr); the code is None after ``timeout`` seconds (the child and its ranks stopped),
    with what the child printed until then: its rows so far and the stage it reached."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM first: torchrun stops its ranks (each also dies with it: PR_SET_PDEATHSIG); then the group.
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            return None, out or "", err or ""
    return proc.returncode, out, err


# torchrun's summary of a group whose first failing rank died of a signal.
ROOT_CAUSE_SIGNAL = re.compile(r"Root Cause \(first observed failure\):\s*\[(\d+)\]:[^\[]*?traceback\s*:\s*"
                               r"(Signal \d+ \(\w+\))")


def failure_line(out: str, err: str) -> str:
    """The child's own ERROR line, else the last stderr line that says something (torchrun ends with a box of '=')."""
    errors = [line[6:] for line in out.splitlines() if line.startswith("ERROR ")]
    if errors:
        return errors[0]
    killed = ROOT_CAUSE_SIGNAL.search(err)
    if killed:  # the rank that died first, not the peers that then lost it ("Connection closed by peer")
        return f"rank {killed[1]} was killed by {killed[2]}"
    said = [line.strip() for line in err.splitlines() if line.strip().strip("=-")]
    # A rank's exception ("[rank1]: RuntimeError: ..."), not torchrun's own ChildFailedError about it.
    named = [line for line in said if "Error" in line and "ChildFailedError" not in line]
    return (named or said or ["no output"])[-1]


def reached(out: str) -> str:
    """The child's last few stages ("built 9s, ..."), for a row that timed out."""
    stages = [line[6:] for line in out.splitlines() if line.startswith("STAGE ")]
    return "; reached: " + ", ".join(stages[-4:]) if stages else "; no stage reached"


def main() -> int:
    from storymem_engine.distributed import CPU_TEST_ENV, PARALLEL_MODES

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
    parser.add_argument("--gpus", default="1",
                        help="GPU counts, comma-separated (e.g. 1,2,4,8): each preset runs as N ranks with context "
                             "parallelism for each N > 1 (default 1: one plain process)")
    parser.add_argument("--parallel", choices=PARALLEL_MODES, default="ulysses",
                        help="with --gpus N > 1: Ulysses attention (the head count must divide by N) or ring "
                             "attention (CUDA only)")
    parser.add_argument("--shard-weights", action="store_true",
                        help="with --gpus N > 1: the experts' weights sharded across the ranks (FSDP2, full_gpu only), "
                             "as render --shard-weights")
    parser.add_argument("--timeout", type=int, default=420, help="seconds per preset (and GPU count)")
    parser.add_argument("--budget", type=int, default=None,
                        help=f"seconds for the whole run (default: {QUICK_BUDGET} per GPU count with --quick, none "
                             "otherwise); each preset gets at most what is left of it")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profiles is None:
        args.profiles = "final,draft" if args.tiny else "final"
    if args.child:
        try:
            code = child(args)
        except Exception as exc:
            # One line the launcher shows as the row (the traceback follows on stderr).
            print(f"ERROR {type(exc).__name__}: {' '.join(str(exc).split())[:500]}", flush=True)
            raise
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # As storymem_engine/rank_main.py: the rows are out; the interpreter's teardown of gloo/NCCL state
            # sometimes aborted a rank after a good run (SIGABRT, 1 run in 5 on a loaded 2-core VM: a FAILED row).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    try:
        gpu_counts = parse_gpus(args.gpus)
    except ValueError:
        parser.error(f"--gpus takes GPU counts of 1 or more, comma-separated (e.g. 1,2,4,8), got {args.gpus!r}")

    from storymem_engine.models import OFFLOAD_PRESETS, check_offload

    if not args.tiny:
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device: run with --tiny to check the script on a CPU", file=sys.stderr)
            return 2
        found = torch.cuda.device_count()
        if gpu_counts[-1] > found:
            print(f"--gpus {gpu_counts[-1]}: this machine has {found} CUDA GPU{'s' if found != 1 else ''} (use GPU "
                  f"counts up to {found})", file=sys.stderr)
            return 2
    presets = ([check_offload(p) for p in args.presets.split(",")] if args.presets
               else list(QUICK if args.quick else OFFLOAD_PRESETS))
    from storymem_engine.request import PROFILES

    profiles = args.profiles.split(",")
    if not profiles or any(p not in PROFILES for p in profiles):
        parser.error(f"--profiles takes a comma-separated list of {', '.join(PROFILES)}")
    shape = "tiny 64x48, 9 frames" if args.tiny else f"A14B {args.size}, {args.frames} frames"
    where = ("CPU ranks on gloo: a check, not a speed figure" if args.tiny else "one GPU per rank")
    ranks = (f"; GPUs: {', '.join(map(str, gpu_counts))} ({args.parallel}, {where})" if gpu_counts != [1] else "")
    print(f"M2V shot, {shape}, M = {args.memory}, {STEPS} steps timed, one process per preset "
          f"(profiles: {', '.join(profiles)}){ranks}", flush=True)
    print(HEADER, flush=True)
    failed = 0
    forwarded = ["--memory", str(args.memory), "--size", args.size, "--frames", str(args.frames), "--profiles",
                 args.profiles, "--parallel", args.parallel,
                 *(["--tiny"] if args.tiny else []), *(["--text-encoder-on-cpu"] if args.text_encoder_on_cpu else []),
                 *(["--shard-weights"] if args.shard_weights else [])]
    script = str(Path(__file__).resolve())
    from storymem_engine.accounting import Machine, host_ram_gib

    usable_ram = Machine(host_ram_gib(), None).usable_ram_gib
    # --quick: 8 minutes per GPU count (the issue's figure is for the run on one GPU).
    budget = args.budget if args.budget is not None else (QUICK_BUDGET * len(gpu_counts) if args.quick else None)
    run_start = time.perf_counter()
    for preset in presets:
        single: dict[str, dict] = {}  # profile -> the N = 1 row of this preset, for the efficiency column
        for gpus in gpu_counts:
            on = f" on {gpus} GPUs" if gpus > 1 else ""
            if gpus > 1 and args.shard_weights and preset != "full_gpu":
                print(f"{preset:<15}{'-':<7}{gpus:>5}   refused: sharded weights stay on the GPUs (full_gpu only)",
                      flush=True)
                continue
            if gpus > 1 and preset not in PARALLEL_PRESETS:
                why = PARALLEL_REFUSED.get(preset, "it is not one of them")
                print(f"{preset:<15}{'-':<7}{gpus:>5}   refused: on N > 1 GPUs only {', '.join(PARALLEL_PRESETS)} run; "
                      f"{why}", flush=True)
                continue
            too_big = "" if args.tiny or gpus == 1 else host_ram_problem(preset, gpus, usable_ram,
                                                                         args.text_encoder_on_cpu)
            if too_big:
                print(f"{preset:<15}{'-':<7}{gpus:>5}   refused: {too_big}", flush=True)
                continue
            env = dict(os.environ)
            if gpus == 1:
                command = [sys.executable, script, "--child", preset, *forwarded]
            else:
                command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                           str(gpus), script, "--child", preset, *forwarded]
                if args.tiny:
                    env[CPU_TEST_ENV] = "1"  # the test-only device-count shim: CPU ranks only, never on GPUs
                    env["OMP_NUM_THREADS"] = "1"
                else:
                    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // gpus)))
            timeout = time_for_preset(args.timeout, budget, time.perf_counter() - run_start)
            if timeout is None:
                print(f"{preset:<15}{'-':<7}{gpus:>5}   not started: "
                      f"{budget - (time.perf_counter() - run_start):.0f}s left of the {budget}s budget", flush=True)
                failed += 1
                continue
            code, out, err = run_child(command, env, timeout)
            rows = [json.loads(line[4:]) for line in out.splitlines() if line.startswith("ROW ")]
            lines = []
            for row in rows:
                if gpus == 1:
                    single[row["profile"]] = row
                scaled = len(gpu_counts) > 1  # the N = 1 row of such a run says 1.00
                lines.append(format_row(row, scaling_efficiency(single.get(row["profile"]), row) if scaled else None))
            if code is None:
                lines.append(f"{preset:<15}timed out after {timeout}s{on}{reached(out)}")
                failed += 1
            elif code != 0 or len(rows) != len(set(profiles)):
                lines.append(f"{preset:<15}FAILED (exit {code}){on}: {failure_line(out, err)}")
                # The whole story for the next run (torchrun's summary box names the rank and its error file).
                print(f"--- {preset}{on}, exit {code}, the child's stderr (last 40 lines):", file=sys.stderr)
                print("\n".join(err.strip().splitlines()[-40:]), file=sys.stderr, flush=True)
                failed += 1
            print("\n".join(lines), flush=True)
    whole = time.perf_counter() - run_start
    print(f"whole run: {whole:.0f}s" + (f" of the {budget}s budget ({'within' if whole <= budget else 'over'} it)"
                                        if budget is not None else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
