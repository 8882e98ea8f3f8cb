"""Engine overhead: the Director on the tiny engine against a bare diffusers denoising loop, shot by shot.

For every shot of an 8-shot story (the shared ST-Bench "black.json"), in one process:

1. the Director generates the shot as the app does (request, prompt encoding, memory condition,
   the two-expert CFG denoising inside diffusers' pipeline, VAE decode, keyframes, clip and PNG
   writes, project.json save), with hooks that only note the time and keep references;
2. right after, a bare loop runs the same denoising: the same transformer modules (LoRA and
   memory RoPE included), the same scheduler config and shift, the same starting latents,
   condition and prompt embeddings (taken from the engine's first transformer call), the same
   steps, CFG with two transformer calls per step, the same expert boundary:

       for t in scheduler.timesteps:
           expert = transformer if t >= boundary else transformer_2
           cond, uncond = expert(x, t, prompt), expert(x, t, negative)
           latents = scheduler.step(uncond + g * (cond - uncond), t, latents)

   then, for the whole-shot row, the rest of the necessary work with direct calls: diffusers'
   encode_prompt, the memory condition's VAE encode, VAE decode, keyframe extraction, the clip
   and PNG writes (no project bookkeeping: that is engine overhead by definition).

The bare loop's last transformer output is compared with the engine's: equal means both ran the
same computation. Model loading and a 1-shot warm-up (in a separate project) are not timed. The
goal is judged on the median step (a burst from another process on a shared machine moves a total,
rarely a median); totals are printed too. One torch thread by default (see --threads).

At 832x480 a tiny-engine call attends over 3k-5k tokens (tens of ms), so a step is real work and
per-call Python overhead still shows. The tiny VAE is slow on a CPU: 5 frames keep it from
swamping the whole-shot row.

    python bench/engine_overhead.py                         # 8 shots, 832x480, 5 frames, 10 steps
    python bench/engine_overhead.py --quick                 # 3 shots of 64x48, 9 frames, 2 steps
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STORY = ROOT.parent / "shared" / "stbench" / "black.json"
GOAL = 1.05


@dataclass
class ShotTiming:
    index: int
    mode: str
    memory: int
    tokens: int
    engine: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    bare: dict[str, float] = field(default_factory=dict)
    engine_steps: list[float] = field(default_factory=list)  # seconds per denoising step
    bare_steps: list[float] = field(default_factory=list)
    engine_calls: int = 0
    bare_calls: int = 0
    max_diff: float = float("nan")


class Probe:
    """Forward hooks on the experts: time of a shot's first call, its inputs, the last output."""

    def __init__(self, transformers) -> None:
        self.recording = False
        self.calls = 0
        self.first_at: float | None = None
        self.inputs: list[dict] = []
        self.last_output = None
        self.handles = []
        for module in transformers:
            self.handles.append(module.register_forward_pre_hook(self._pre, with_kwargs=True))
            self.handles.append(module.register_forward_hook(self._post, with_kwargs=True))

    def reset(self, recording: bool) -> None:
        self.recording = recording
        self.calls = 0
        self.first_at = None
        self.inputs = []
        self.last_output = None

    def _pre(self, module, args, kwargs):
        # Both the engine's and the bare loop's calls pass through these hooks (same cost on both sides).
        self.calls += 1
        if self.recording:
            if self.first_at is None:
                self.first_at = time.perf_counter()
            if len(self.inputs) < 2:
                self.inputs.append(dict(kwargs, module=module))
        return None

    def _post(self, module, args, kwargs, output):
        self.last_output = output[0] if isinstance(output, tuple) else output
        return None


def make_story(count: int):
    from storymem_engine.story import Shot, Story, load_story

    if STORY.is_file():
        story = load_story(STORY)
    else:  # the shared stories are not there: 8 synthetic shots with the same cut pattern
        cuts = [True, False, True, False, True, True, False, True]
        story = Story(name="synthetic", shots=[Shot(prompt=f"shot {i + 1}: a street musician plays", cut=c,
                                                    scene_num=1 + sum(cuts[1:i + 1]))
                                               for i, c in enumerate(cuts)])
    while len(story.shots) < count:
        story.shots.append(Shot(prompt=f"extra shot {len(story.shots) + 1}", cut=False,
                                scene_num=story.shots[-1].scene_num))
    story.shots = story.shots[:count]
    return story


def bare_shot(engine, director, index: int, request, probe: Probe, folder: Path) -> tuple[dict[str, float], list]:
    """The same shot with direct library calls; returns phase times and per-step times."""
    import numpy as np
    import torch
    from diffusers import UniPCMultistepScheduler

    from storymem_engine.conditioning import build_memory_condition
    from storymem_engine.director import load_image, save_image
    from storymem_engine.engine import to_tensor_image
    from storymem_engine.keyframes import extract_keyframes
    from storymem_engine.request import DROPPED_FRAMES
    from storymem_engine.rope import set_memory_frames
    from storymem_engine.sampling import reference_unshifted_sigmas
    from storymem_engine.video import write_video

    pipe = engine._t2v if request.mode == "t2v" else engine._m2v
    t1, t2 = pipe.transformer, pipe.transformer_2
    first_call, second_call = probe.inputs[0], probe.inputs[1]
    x0 = first_call["hidden_states"]
    latents0 = x0[:, :16].clone()
    condition = x0[:, 16:] if x0.shape[1] > 16 else None
    prompt, negative = first_call["encoder_hidden_states"], second_call["encoder_hidden_states"]
    memory_count = len(request.memory)
    times: dict[str, float] = {}

    with torch.no_grad():
        # Before denoising: the prompt pair through diffusers' encode_prompt, the condition's VAE encode.
        start = time.perf_counter()
        resolve = director.project.resolve
        memory = [load_image(resolve(p)) for p in request.memory]
        pipe.encode_prompt(request.prompt, request.negative_prompt, do_classifier_free_guidance=True,
                           max_sequence_length=512, device=torch.device("cpu"))
        if request.mode != "t2v":
            first = to_tensor_image(load_image(resolve(request.first_frame))) if request.first_frame else None
            build_memory_condition(pipe.vae, [to_tensor_image(m) for m in memory], request.num_frames,
                                   request.height, request.width, first_frame=first)
        times["before"] = time.perf_counter() - start

        scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config, prediction_type="flow_prediction",
                                                        use_flow_sigmas=True, flow_shift=request.shift)
        # The official grid, passed as explicit sigmas as the engine does (storymem_engine/sampling.py).
        scheduler.set_timesteps(sigmas=reference_unshifted_sigmas(request.steps), device=torch.device("cpu"))
        boundary = request.boundary_ratio * scheduler.config.num_train_timesteps
        set_memory_frames((t1, t2), memory_count)
        probe.reset(recording=False)
        latents = latents0.clone()
        start = time.perf_counter()
        stamps = [start]
        for t in scheduler.timesteps:
            expert = t1 if t >= boundary else t2
            x = torch.cat([latents, condition], dim=1) if condition is not None else latents
            timestep = t.expand(latents.shape[0])
            cond = expert(hidden_states=x, timestep=timestep, encoder_hidden_states=prompt, return_dict=False)[0]
            uncond = expert(hidden_states=x, timestep=timestep, encoder_hidden_states=negative, return_dict=False)[0]
            latents = scheduler.step(uncond + request.guidance * (cond - uncond), t, latents, return_dict=False)[0]
            stamps.append(time.perf_counter())
        times["denoise"] = time.perf_counter() - start
        set_memory_frames((t1, t2), 0)

        start = time.perf_counter()
        vae = pipe.vae
        z = latents[:, :, memory_count:]
        mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1)
        video = vae.decode(z * std + mean, return_dict=False)[0][0]  # [3, F, H, W] in [-1, 1]
        frames = ((video.permute(1, 2, 3, 0) / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        frames = frames[DROPPED_FRAMES[request.mode]:]
        times["decode"] = time.perf_counter() - start

    start = time.perf_counter()
    result = extract_keyframes(frames, memory, director.settings.keyframes, similarity=engine.keyframe_similarity())
    folder.mkdir(parents=True, exist_ok=True)
    write_video(folder / "clip.mp4", frames, fps=16)
    for n, i in enumerate(result.indices):
        save_image(folder / f"keyframe_{n}.png", frames[i])
    save_image(folder / "last.png", frames[-1])
    for n, frame in enumerate(frames[-5:]):
        save_image(folder / f"motion_{n}.png", np.ascontiguousarray(frame))
    times["after"] = time.perf_counter() - start
    return times, [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def run_engine_shot(director, index: int, probe: Probe) -> tuple[dict[str, float], list[float]]:
    from storymem_engine.engine import PHASE_HIGH, PHASE_KEYFRAMES, PHASE_LOW

    marks: dict[str, float] = {}
    step_ends: list[float] = []

    def progress(p) -> None:
        if p.phase in (PHASE_HIGH, PHASE_LOW) and p.step >= 1:
            step_ends.append(time.perf_counter())
            if p.step == p.total:
                marks["denoised"] = step_ends[-1]
        elif p.phase == PHASE_KEYFRAMES:
            marks["decoded"] = time.perf_counter()

    probe.reset(recording=True)
    start = time.perf_counter()
    director.generate_shot(index, progress=progress)
    end = time.perf_counter()
    stamps = [probe.first_at, *step_ends]
    return ({"before": probe.first_at - start, "denoise": marks["denoised"] - probe.first_at,
             "decode": marks["decoded"] - marks["denoised"], "after": end - marks["decoded"]},
            [b - a for a, b in zip(stamps, stamps[1:], strict=False)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="832x480", help="WxH, multiples of 16 (default 832x480)")
    parser.add_argument("--frames", type=int, default=5, help="frames per shot (default 5: a smaller VAE share)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1, help="shots generated untimed first (default 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on a busy small machine, 2 threads make every op "
                        "wait for a descheduled thread and the timings scatter); 0 keeps torch's default")
    parser.add_argument("--quick", action="store_true", help="3 shots of 64x48, 9 frames, 2 steps: checks the script")
    parser.add_argument("--models", help="a tiny model folder (default: the app's tiny cache, built when missing)")
    args = parser.parse_args()
    if args.quick:
        args.size, args.frames, args.steps, args.shots, args.warmup = "64x48", 9, 2, 3, 1

    import torch

    from storymem_engine.director import Director, DirectorSettings
    from storymem_engine.engine import EngineSettings, StoryMemEngine
    from storymem_engine.project import Project
    from storymem_engine.tiny import ensure_tiny_models

    torch.manual_seed(0)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    t0 = time.perf_counter()
    models = ensure_tiny_models(Path(args.models) if args.models else None)
    engine = StoryMemEngine(EngineSettings(engine="tiny", models_dir=str(models), device="cpu", offload="full_gpu",
                                           hold_both_pipelines=True))
    engine.load("t2v")
    engine.load("m2v")
    print(f"tiny models loaded in {time.perf_counter() - t0:.1f}s (not timed below); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}", flush=True)
    transformers = [engine._t2v.transformer, engine._t2v.transformer_2, engine._m2v.transformer,
                    engine._m2v.transformer_2]
    probe = Probe(transformers)
    settings = dict(width=width, height=height, frames=args.frames, steps=args.steps)
    shots: list[ShotTiming] = []

    with tempfile.TemporaryDirectory(prefix="engine-overhead-") as tmp:
        tmp = Path(tmp)
        warm = Project(folder=tmp / "warmup.storymem", story=make_story(max(args.warmup, 1)))
        warm.save()
        warm_director = Director(warm, engine, DirectorSettings(**settings))
        for i in range(args.warmup):
            request = warm_director.request_for(i)
            run_engine_shot(warm_director, i, probe)
            bare_shot(engine, warm_director, i, request, probe, tmp / "warm-bare" / str(i))
        print(f"warm-up: {args.warmup} shot(s) through both paths, untimed", flush=True)

        project = Project(folder=tmp / "bench.storymem", story=make_story(args.shots))
        project.save()
        director = Director(project, engine, DirectorSettings(**settings))
        for i in range(args.shots):
            request = director.request_for(i)
            per_frame = (request.height // 16) * (request.width // 16)
            timing = ShotTiming(i, request.mode, len(request.memory),
                                (len(request.memory) + (request.num_frames - 1) // 4 + 1) * per_frame)
            timing.engine, timing.engine_steps = run_engine_shot(director, i, probe)
            timing.engine_calls = probe.calls
            engine_last = probe.last_output
            timing.bare, timing.bare_steps = bare_shot(engine, director, i, request, probe, tmp / "bare" / str(i))
            timing.bare_calls = probe.calls
            timing.max_diff = float((probe.last_output - engine_last).abs().max())
            shots.append(timing)
            print(f"  shot {i + 1}/{args.shots} {request.mode:<5} M={timing.memory:<2} engine "
                  f"{sum(timing.engine.values()):.2f}s, bare {sum(timing.bare.values()):.2f}s", flush=True)

    name = STORY.stem if STORY.is_file() else "synthetic"
    print(f"\nengine overhead: {len(shots)} shots of {name}, tiny engine (random weights) on CPU "
          f"({os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s)), {width}x{height}, "
          f"{args.frames} frames, {args.steps} steps/shot, CFG {DirectorSettings().guidance} "
          f"(2 transformer calls per step), load average now {os.getloadavg()[0]:.1f}")
    print(f"{'shot':>4} {'mode':<5}{'M':>3}{'tokens':>8}{'engine denoise s':>18}{'bare denoise s':>16}{'ratio':>7}"
          f"{'median step e/b ms':>20}{'calls e/b':>11}{'last out diff':>15}")
    for s in shots:
        steps = f"{statistics.median(s.engine_steps) * 1e3:.1f}/{statistics.median(s.bare_steps) * 1e3:.1f}"
        print(f"{s.index + 1:>4} {s.mode:<5}{s.memory:>3}{s.tokens:>8}{s.engine['denoise']:>18.3f}"
              f"{s.bare['denoise']:>16.3f}{s.engine['denoise'] / s.bare['denoise']:>7.3f}{steps:>20}"
              f"{f'{s.engine_calls}/{s.bare_calls}':>11}{s.max_diff:>15.2g}")

    def total(side: str, phase: str | None = None) -> float:
        return sum(getattr(s, side)[phase] if phase else sum(getattr(s, side).values()) for s in shots)

    phases = [
        ("before", "before denoising: prompt encode, memory condition VAE encode (engine: + request, setup)"),
        ("denoise", "denoising: experts x2 (CFG) + scheduler.step per step"),
        ("decode", "VAE decode + frames to uint8"),
        ("after", "keyframes, clip + PNG writes (engine: + project.json save)"),
    ]
    print(f"\n{'phase, all shots (included in the whole-shot row)':<92}{'engine s':>10}{'bare s':>10}{'ratio':>8}")
    for key, label in phases:
        print(f"{label:<92}{total('engine', key):>10.3f}{total('bare', key):>10.3f}"
              f"{total('engine', key) / total('bare', key):>8.3f}")
    print(f"{'whole shot (sum of the above)':<92}{total('engine'):>10.3f}{total('bare'):>10.3f}"
          f"{total('engine') / total('bare'):>8.3f}")

    e_steps = [d for s in shots for d in s.engine_steps]
    b_steps = [d for s in shots for d in s.bare_steps]
    med_ratio = statistics.median(e_steps) / statistics.median(b_steps)
    den_e, den_b = total("engine", "denoise"), total("bare", "denoise")
    whole_e, whole_b = total("engine"), total("bare")
    print(f"\n{'row':<60}{'engine':>10}{'bare':>10}{'ratio':>8}  goal")
    print(f"{'denoising only, median step (ms), ' + str(len(e_steps)) + ' steps each':<60}"
          f"{statistics.median(e_steps) * 1e3:>10.1f}{statistics.median(b_steps) * 1e3:>10.1f}{med_ratio:>8.3f}"
          f"  <= {GOAL}x: {'met' if med_ratio <= GOAL else 'missed'}")
    print(f"{'denoising only, fastest step (ms)':<60}{min(e_steps) * 1e3:>10.1f}{min(b_steps) * 1e3:>10.1f}"
          f"{min(e_steps) / min(b_steps):>8.3f}")
    print(f"{'denoising only, total (s) and mean step':<60}{den_e:>10.2f}{den_b:>10.2f}{den_e / den_b:>8.3f}")
    print(f"{'whole shot incl. encode, decode, keyframes, write (s)':<60}{whole_e:>10.2f}{whole_b:>10.2f}"
          f"{whole_e / whole_b:>8.3f}  <= {GOAL}x: {'met' if whole_e / whole_b <= GOAL else 'missed'}")
    print(f"ratio denoising only (engine/bare, median step): {med_ratio:.3f}x; total: {den_e / den_b:.3f}x")
    print(f"ratio whole shot (engine/bare): {whole_e / whole_b:.3f}x")
    same = all(s.engine_calls == s.bare_calls for s in shots)
    print(f"same transformer calls on both sides: {same} ({sum(s.engine_calls for s in shots)} each); "
          f"largest last-output difference: {max(s.max_diff for s in shots):.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
