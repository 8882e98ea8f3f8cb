"""Headless commands: `main.py info STORY.json` and `main.py render STORY.json --out DIR`."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import threading
import time
from dataclasses import fields, replace
from pathlib import Path

from storymem_engine.models import LORA_FOLDERS, models_folder_problem
from storymem_engine.multi_gpu import MAX_GPUS, PARALLEL_MODES, one_line
from storymem_engine.render_settings import MAX_MEMORY, RenderSettings
from storymem_engine.request import DRAFT_NOTE, PROFILES
from storymem_engine.story import (
    MAX_FRAMES,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    Shot,
    StoryError,
    load_story,
    story_to_script,
)

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A bad flag value or input file: printed as one line, exit code 2."""



def _number(text: str, kind):
    # int("9" * 5000) and float("inf") parse; neither is a usable setting.
    if len(text) > 40:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:20]}... ({len(text)} characters)")
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (_number(v, int) for v in text.lower().split("x"))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"size must look like 832x480, got {text[:40]!r}") from None
    if w <= 0 or h <= 0 or w % 16 or h % 16:
        raise argparse.ArgumentTypeError(f"width and height must be positive multiples of 16, got {text}")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"width and height must be at most {MAX_SIDE}, got {text}")
    return w, h


def _frames(text: str) -> int:
    n = _number(text, int)
    if n < 5 or (n - 1) % 4 or n > MAX_FRAMES:
        raise argparse.ArgumentTypeError(f"frames must be 4n+1 between 5 and {MAX_FRAMES} (e.g. 17, 49, 81), got {n}")
    return n


def _bounded(kind, low, high, low_inclusive: bool = True):
    def parse(text: str):
        value = _number(text, kind)
        if value < low or (value == low and not low_inclusive) or value > high:
            bracket = "[" if low_inclusive else "("
            raise argparse.ArgumentTypeError(f"must be in {bracket}{low}, {high}], got {text}")
        return value

    return parse


def _positive(kind, high):
    return _bounded(kind, 0, high, low_inclusive=False)


# render option -> the RenderSettings field it sets (None: not given, the project's value applies).
PROJECT_OPTIONS = {
    "frames": "frames", "steps": "steps", "guidance": "guidance", "seed": "seed", "seed_rule": "seed_rule",
    "max_memory": "memory_size", "fix": "memory_sink", "offload": "offload",
    "text_encoder_on_cpu": "text_encoder_on_cpu", "vae_tiling": "vae_tiling", "profile": "profile",
    "continuation": "continuation",
}


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each render setting's default and that a rerun keeps the project's own value."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.dest == "size" or action.dest in PROJECT_OPTIONS:
            d = RenderSettings()
            value = f"{d.width}x{d.height}" if action.dest == "size" else getattr(d, PROJECT_OPTIONS[action.dest])
            if isinstance(value, bool):
                value = "on" if value else "off"
            return f"{text} (default: {value}; rendering into an earlier project: that project's setting)"
        if action.default is None or action.required:  # "(default: None)" says nothing
            return text
        return super()._get_help_string(action)


def render_settings(args, saved: RenderSettings | None) -> RenderSettings:
    """The settings this render uses: each option given, else the --out project's saved value, else the default."""
    settings = saved or RenderSettings()
    given = {field: getattr(args, option) for option, field in PROJECT_OPTIONS.items()
             if getattr(args, option) is not None}
    if args.size is not None:
        given["width"], given["height"] = args.size
    settings = replace(settings, **given)
    if not 0 <= settings.memory_sink <= settings.memory_size:
        raise CliError(f"--fix must be between 0 and --max-memory ({settings.memory_size}), "
                       f"got {settings.memory_sink}")
    return settings


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2: no usage dump for a bad value
        raise CliError(message)


def build_parser() -> argparse.ArgumentParser:
    from storymem_engine.models import OFFLOAD_CHOICES

    parser = _Parser(prog="main.py", description="StoryMem Studio: headless commands (main.py alone opens the editor)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    info = sub.add_parser("info", help="summarise a story script as JSON")
    info.add_argument("story", help="a story script in the ST-Bench format (story_name, scenes, ...)")
    render = sub.add_parser("render", help="render a story shot by shot", formatter_class=_DefaultsFormatter,
                            description="Render a story shot by shot with StoryMem into a project folder "
                                        "(project.json, takes/, film.mp4, manifest.json).")
    render.add_argument("story", help="a story script in the ST-Bench format")
    render.add_argument("--out", required=True, help="output folder: new, empty, or a project of this story "
                                                     "(a rerun continues it)")
    render.add_argument("--replace-story", action="store_true",
                        help="render into a project that holds another story, replacing its story (takes stay)")
    render.add_argument("--engine", choices=("tiny", "wan"), default="wan",
                        help="wan: Wan2.2 A14B + StoryMem from --models (CUDA GPU); tiny: random-weight models that "
                             "check the install (noise-like video; draft settings for --size, --frames and --steps "
                             "left out)")
    render.add_argument("--models", help="models folder (see README: Getting the models)")
    # Render settings: an option left out takes the value saved in the --out project (a rerun renders as
    # before), else the default shown; what was used is saved in the project for the next run and the editor.
    render.add_argument("--size", type=_size, help="WxH")
    render.add_argument("--frames", type=_frames, help="frames per shot, 4n+1")
    render.add_argument("--steps", type=_positive(int, MAX_STEPS), help="denoising steps per shot")
    render.add_argument("--guidance", type=_positive(float, MAX_GUIDANCE),
                        help="classifier-free guidance scale (both experts)")
    render.add_argument("--seed", type=_bounded(int, 0, MAX_SEED), help="story seed")
    render.add_argument("--seed-rule", choices=("scene", "story"),
                        help="shot seed = seed + index within its scene (as the official code) or + index in the "
                             "story")
    render.add_argument("--profile", choices=PROFILES,
                        help="final: the method as published (40 steps, CFG 3.5); draft: the lightx2v 4-step "
                             "distilled LoRAs (<models>/Wan2.2-Distill-Loras), CFG off, memory fidelity unverified. "
                             "--profile final over a draft render finalizes it (draft shots are made again)")
    render.add_argument("--max-memory", type=_positive(int, MAX_MEMORY),
                        help="memory images a shot is conditioned on at most")
    render.add_argument("--fix", type=_bounded(int, 0, MAX_MEMORY), help="memory sink size")
    render.add_argument("--continuation", choices=tuple(LORA_FOLDERS),
                        help="how a shot without a cut continues, and so which StoryMem LoRA loads: from the last "
                             "frame (mi2v) or the last 5 (mm2v)")
    render.add_argument("--first-shot", choices=("t2v", "m2v"), default="t2v",
                        help="t2v: text-to-video; m2v: from --reference images as memory (MR2V)")
    render.add_argument("--reference", nargs="+", default=[], help="reference images for --first-shot m2v")
    render.add_argument("--offload", choices=OFFLOAD_CHOICES,
                        help="where the models live (README: RAM and VRAM per offload preset); auto: the fastest "
                             "preset that fits this machine's free GPU memory, chosen when the engine starts")
    render.add_argument("--text-encoder-on-cpu", action=argparse.BooleanOptionalAction,
                        help="keep UMT5 on the CPU (saves VRAM)")
    render.add_argument("--skip-memory-check", action="store_true",
                        help="load even when the preset needs more RAM/VRAM than this machine has (swap)")
    render.add_argument("--rope-stride", type=_positive(int, 64), default=1,
                        help="memory RoPE stride S (1 is the public release's)")
    render.add_argument("--vae-tiling", action=argparse.BooleanOptionalAction,
                        help="tile the VAE (less VRAM; the official run encodes whole frames; "
                             "group_offload and sequential tile anyway)")
    render.add_argument("--keyframe-similarity", choices=("clip", "hsv"), default="clip",
                        help="clip: CLIP ViT-B/32 from the models folder (the method); hsv: model-free, "
                             "needs no CLIP weights, and every take says keyframes were picked without CLIP")
    render.add_argument("--clip-weights", help="an open_clip ViT-B/32 folder or weights file to use instead "
                                               "of <models>/CLIP-ViT-B-32")
    render.add_argument("--gpus", type=_bounded(int, 1, MAX_GPUS), default=1,
                        help="split each shot across N GPUs of this machine (one process per GPU, started with "
                             "torchrun; README: Several GPUs)")
    render.add_argument("--parallel", choices=PARALLEL_MODES, default="ulysses",
                        help="with --gpus: Ulysses attention (the head count must divide by N) or ring attention "
                             "(needs flash-attn, SageAttention or PyTorch's flash SDPA)")
    render.add_argument("--shard-weights", action="store_true",
                        help="with --gpus: each GPU keeps 1/N of the experts' weights (FSDP2; every block is gathered "
                             "as it runs), for experts that do not fit one GPU; keeps them on the GPUs (offload "
                             "full_gpu); not with the draft profile")
    return parser


def cmd_info(args) -> int:
    story = _load_script(args.story, args.command)
    summary = {
        "story_name": story.name,
        "scenes": len({s.scene_num for s in story.shots}),
        "shots": len(story.shots),
        "cuts": [s.cut for s in story.shots],
    }
    print(json.dumps(summary, ensure_ascii=False))
    _unused_references_note(args)
    return 0


def _unused_references_note(args) -> None:
    """The MR2V references File > Export story JSON writes beside a script (<stem>/00_00_keyframe<n>.jpg), which
    the app's Import story picks up: said when a render is not given them, rather than ignored without a word."""
    from storymem_engine.reference_images import official_references

    script = Path(args.story)
    found = official_references(script) if script.is_file() and not getattr(args, "reference", None) else []
    if found:
        folder = found[0].parent
        print(f"note: {folder.name}/ beside the script holds {len(found)} MR2V reference image"
              f"{'s' * (len(found) != 1)} (00_00_keyframe<n>.jpg), not used here; render from them with "
              f"--first-shot m2v --reference {folder}/00_00_keyframe*.jpg", file=sys.stderr)


class ConsoleProgress:
    """A line per shot redrawn in place on a terminal: a bar, the phase and an ETA from the step rate.

    Written to a file or a pipe (a Slurm job's log, ``2> render.log``), a redraw would pile every step of a shot
    into one line, so it writes plain lines instead: one when the phase changes, and at least every
    ``LOG_EVERY_S``, so a log shows a live job without a line per step. Between progress events (models loading
    for minutes, one long step, the film being written) a heartbeat thread writes that line ("still ...").
    """

    LOG_EVERY_S = 60.0

    def __init__(self, total_shots: int, stream=sys.stderr, live: bool | None = None) -> None:
        self.total_shots = total_shots
        self.stream = stream
        self.live = _is_terminal(stream) if live is None else live
        self.index = 0
        self._logged: tuple[str, float] | None = None  # (phase, elapsed) of the last plain line of this shot
        self._lock = threading.Lock()  # the heartbeat and the render write lines
        self._last_line = time.monotonic()
        self._doing = "starting"  # what the last line said is going on, for the heartbeat
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._again: tuple[int | None, int] = (None, 0)  # (shot index, take number) of a take accepted again

    def __enter__(self) -> ConsoleProgress:
        if not self.live:  # a terminal's bar is redrawn anyway; a log needs the promised line a minute
            self._heartbeat = threading.Thread(target=self._beat, name="progress-heartbeat", daemon=True)
            self._heartbeat.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()

    def doing(self, what: str) -> None:
        """A step outside the shots (writing the film): said now, and by the heartbeat while it lasts."""
        self._line(what)
        self._doing = what

    def _beat(self) -> None:
        while not self._stop.wait(min(self.LOG_EVERY_S / 4, 5.0)):
            with self._lock:
                silent = time.monotonic() - self._last_line
                if silent >= self.LOG_EVERY_S:
                    self._write_locked(f"still {self._doing} ({silent:.0f}s since the last line)\n")

    def __call__(self, p) -> None:
        eta = (p.elapsed / p.step * (p.total - p.step)) if p.step else float("nan")
        eta_text = f"ETA {eta:5.0f}s" if eta == eta else "ETA   --"
        shot = f"shot {self.index + 1}/{self.total_shots}"
        if self.live:
            bar = "#" * int((p.step / p.total if p.total else 0.0) * 24)
            self._write(f"\r{shot} [{bar:<24}] {p.step:>3}/{p.total} {p.phase:<18} {p.elapsed:6.1f}s {eta_text}")
            return
        if self._logged is not None and self._logged[0] == p.phase and p.elapsed - self._logged[1] < self.LOG_EVERY_S:
            return
        self._logged = (p.phase, p.elapsed)
        self._doing = f"{shot}: {p.phase}"
        self._write(f"{shot} {p.step:>3}/{p.total} {p.phase:<18} {p.elapsed:6.1f}s {eta_text}\n")

    def regenerating(self, index: int, reason: str) -> None:
        if reason != "it has no finished take":  # a first render needs no explanation per shot
            self._line(f"shot {index + 1}/{self.total_shots}: generating again, {reason}")

    def reaccepted(self, index: int, number: int) -> None:
        """The shot's take ``number`` (from 1) is current and accepted again: said with the shot's line."""
        self._again = (index, number)

    def shot_done(self, index: int, take, skipped: bool) -> None:
        word = "kept (unchanged)" if skipped else f"done, {take.frames} frames"
        if skipped and self._again[0] == index:
            word = f"kept: its take {self._again[1]} matches these settings and is accepted again (nothing generated)"
        self._line(f"shot {index + 1}/{self.total_shots} {word}")
        self.index = index + 1
        self._logged = None

    def _line(self, text: str) -> None:
        # On a terminal the line replaces the redrawn bar, whose tail the padding clears.
        self._write(f"\r{text}{' ' * 50}\n" if self.live else f"{text}\n")

    def _write(self, text: str) -> None:
        with self._lock:
            self._write_locked(text)

    def _write_locked(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
        self._last_line = time.monotonic()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: plain lines are always readable
        return False


# A shot's fields a story script does not carry (story_to_script writes the others): the editor's own.
EDITOR_FIELDS = tuple(f.name for f in fields(Shot) if f.name not in ("id", "prompt", "cut", "scene_num",
                                                                      "first_frame_prompt"))


def _open_project(out: Path, story):
    """Reuse takes of an earlier render into the same folder (shot ids are positional on import)."""
    from storymem_engine.project import PROJECT_FILE, Project, load_project

    project = Project(folder=out, story=story)
    if (out / PROJECT_FILE).is_file():
        previous = load_project(out)
        earlier = {s.id: s for s in previous.story.shots}
        for shot in story.shots:
            if shot.id in earlier:
                # Everything the editor keeps beside the script (takes, notes, own seed and lock, mode, frames,
                # steps, guidance, animatic length, shot size, camera move, profile) stays: a rerun of the same
                # script wiped them while it said "kept (unchanged)".
                for name in EDITOR_FIELDS:
                    setattr(shot, name, getattr(earlier[shot.id], name))
        story.memory_pins = previous.story.memory_pins
        story.memory_exclusions = previous.story.memory_exclusions
        story.cast = previous.story.cast  # the editor's cast renders from the CLI the same
        story.soundtrack = previous.story.soundtrack  # and the film the render writes has its music
    return project


def cmd_render(args, argv: list[str] | None = None) -> int:
    from storymem_engine import multi_gpu
    from storymem_engine.models import check_models
    from storymem_engine.project import writing

    if args.gpus > 1 and multi_gpu.in_child() and multi_gpu.env_rank() != 0:
        multi_gpu.start_rank()
        return multi_gpu.serve()  # computes only: rank 0 checks, writes and says everything
    if args.gpus > 1 and not multi_gpu.in_child():
        try:
            multi_gpu.check_gpus(args.gpus)
        except multi_gpu.GpuCountError as exc:
            raise CliError(str(exc)) from None
    story = _load_script(args.story, args.command)
    if args.first_shot == "m2v" and not args.reference:
        raise CliError("--first-shot m2v needs --reference IMG [IMG ...]")
    if args.reference and args.first_shot != "m2v":
        raise CliError("--reference is only used with --first-shot m2v")
    for ref in args.reference:
        if not Path(ref).is_file():
            raise CliError(f"reference image not found: {ref}")
    if args.fix is not None and args.max_memory is not None and args.fix > args.max_memory:
        raise CliError(f"--fix must be between 0 and --max-memory ({args.max_memory}), got {args.fix}")
    if args.clip_weights and args.keyframe_similarity == "hsv":
        raise CliError("--clip-weights is only used with --keyframe-similarity clip")
    if args.clip_weights and not Path(args.clip_weights).exists():
        raise CliError(f"CLIP weights not found: {args.clip_weights}")
    if args.models:
        args.models = str(Path(args.models).expanduser())  # "--models=~/models" reaches us unexpanded
    if args.engine == "tiny" and args.models:
        from storymem_engine.tiny import not_tiny_folder

        why = not_tiny_folder(Path(args.models))
        if why:
            raise CliError(f"--models {why}")
    if args.engine == "wan":
        if not args.models:
            raise CliError("--engine wan needs --models DIR (or try --engine tiny to check the install)")
        problem = models_folder_problem(args.models, "See README: Getting the models.")
        if problem:
            raise CliError(f"--models: {problem}")

    out, previous = check_out_folder(args.out, story, args.replace_story)
    settings = render_settings(args, previous.settings if previous is not None else None)
    if args.engine == "wan":  # after the settings: a rerun's continuation LoRA is the project's
        check_models(args.models, settings.continuation, args.first_shot,
                     clip=args.keyframe_similarity == "clip" and not args.clip_weights)
    # A script has no per-shot profiles; an earlier project's shots keep theirs (_open_project).
    drafted_shots = any(s.profile == "draft" for s in previous.story.shots) if previous is not None else False
    if args.engine == "wan" and (settings.profile == "draft" or drafted_shots):
        from storymem_engine.models import distill_download_command, distill_lora_missing

        missing = distill_lora_missing(args.models)
        if missing:
            raise CliError(f"the draft profile needs the distilled LoRAs, missing in {args.models}: "
                           f"{', '.join(missing)}; get them with: {distill_download_command(args.models)}")
    offload, offload_reason = settings.offload, ""
    if args.engine == "wan" and offload == "auto" and not args.shard_weights:
        # Chosen here, before anything is written, so a machine no preset fits is refused at once.
        from storymem_engine.accounting import choose_preset, gpu_free_memory, host_ram_gib

        offload, offload_reason = choose_preset(gpu_free_memory(), host_ram_gib(), settings.text_encoder_on_cpu)
    if args.shard_weights:
        if args.gpus < 2:
            raise CliError("--shard-weights splits the experts' weights across GPUs: add --gpus N (2 or more)")
        if settings.offload not in ("auto", "full_gpu"):
            raise CliError(f"--shard-weights keeps the experts on the GPUs: it replaces --offload {settings.offload} "
                           "(leave --offload out, or use full_gpu)")
        if settings.profile == "draft" or drafted_shots:
            raise CliError("--shard-weights cannot render draft shots (the distilled LoRA is added to the experts "
                           "after they are sharded); use --profile final")
        offload, offload_reason = "full_gpu", f"full_gpu: the experts' weights sharded across {args.gpus} GPUs."
    if args.gpus > 1 and offload == "sequential":
        raise CliError("--gpus: the 'sequential' offload preset cannot be split across GPUs; use --offload "
                       "group_offload or model_offload")
    if args.engine == "wan" and args.skip_memory_check:
        from storymem_engine.accounting import this_machine

        if this_machine().vram_gib is None:  # else the project was written, then the engine failed to start
            raise CliError("--engine wan needs a CUDA GPU and none was found (--skip-memory-check skips the memory "
                           "check, not the GPU); --engine tiny checks the install on this machine")
    if args.engine == "wan" and not args.skip_memory_check:
        from storymem_engine.accounting import InsufficientMemory, preflight, this_machine

        try:
            preflight(offload, this_machine(), settings.text_encoder_on_cpu,
                      shards=args.gpus if args.shard_weights else 1)
            if args.gpus > 1:
                multi_gpu.check_host_memory(offload, args.gpus, this_machine(), settings.text_encoder_on_cpu)
        except (InsufficientMemory, multi_gpu.GpuCountError) as exc:
            raise CliError(f"{exc} (--skip-memory-check loads anyway)") from None
    if args.gpus > 1:
        if not multi_gpu.in_child():
            if args.engine == "tiny":
                from storymem_engine.tiny import ensure_tiny_models

                ensure_tiny_models(Path(args.models) if args.models else None)  # once, not by N ranks at once
            return multi_gpu.launch(args.gpus, argv if argv is not None else sys.argv[1:])
        multi_gpu.start_rank()
    with writing(out):
        return _render(args, story, out, settings, offload, offload_reason)


def _load_script(text: str, command: str):
    """The story script ``info`` or ``render`` was given; a project (the editor's folder, or its project.json) is
    told apart from a script, which its own message ("not a regular file", "missing field 'story_name'") hid."""
    from storymem_engine.project import PROJECT_FILE

    path = Path(text).expanduser()
    folder = path if path.is_dir() else path.parent if path.name == PROJECT_FILE else None
    if folder is not None and (folder / PROJECT_FILE).is_file():
        raise CliError(f"{text} is a StoryMem project, not a story script: {command} takes a story's JSON (see "
                       f"main.py {command} --help); main.py export {folder} writes a project's film, shot list or "
                       "timeline")
    return load_story(text)


def check_out_folder(text: str, story, replace_story: bool):
    """Where a render may write: a new or empty folder, or a project of this same story (a rerun resumes it).

    Never a non-empty folder that is not a project (its film.mp4 / manifest.json would be overwritten), and
    never a project of another story unless --replace-story says so. Returns (folder, the earlier project or None).
    """
    from storymem_engine.project import LOCK_FILE, PROJECT_FILE, load_project

    if not text.strip():
        raise CliError("--out needs a folder name, e.g. --out film.storymem")
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {text}: exists and is not a folder")
    # Checked before any model loads: the first write (the lock, project.json) would otherwise fail as a raw errno.
    nearest = next((p for p in (out, *out.absolute().parents) if p.exists()), None)
    if nearest is not None and not os.access(nearest, os.W_OK | os.X_OK):
        where = "" if nearest == out else f" (in {nearest})"
        raise CliError(f"--out {text}: cannot write there{where}: the folder is read-only or not yours; "
                       "render into a folder you can write")
    if not out.is_dir() or not [p for p in out.iterdir() if p.name != LOCK_FILE]:
        return out, None  # new, or empty but for a writer's lock (which `writing` then reports)
    if not (out / PROJECT_FILE).is_file():
        raise CliError(f"--out {text}: the folder is not empty and is not a StoryMem project; "
                       "render into a new or empty folder")
    previous = load_project(out)
    if story_to_script(previous.story) != story_to_script(story) and not replace_story:
        raise CliError(f"--out {text}: holds a different story ({_story_difference(previous.story, story)}); "
                       "render into a new folder, or add --replace-story to render this script there (the "
                       "project's own prompts, notes and shot settings give way to the script's; its takes stay)")
    return out, previous


def _story_difference(held, script) -> str:
    """The first way the project's story differs from the script: an edited prompt in the editor made the same
    title and shot count read as "another story"."""
    if held.name != script.name:
        return f"the project's is {held.name!r}, the script's {script.name!r}"
    if len(held.shots) != len(script.shots):
        return f"the project has {len(held.shots)} shots, the script {len(script.shots)}"
    for number, (a, b) in enumerate(zip(held.shots, script.shots, strict=True), start=1):
        for field, words in (("prompt", "prompt"), ("cut", "scene cut"), ("scene_num", "scene"),
                             ("first_frame_prompt", "first-frame prompt")):
            if getattr(a, field) != getattr(b, field):
                return f"shot {number}'s {words} differs, edited in the editor or in the script"
    return "its overview or other script fields differ"


def _render(args, story, out: Path, settings: RenderSettings, offload: str, offload_reason: str = "") -> int:
    """Render into ``out``; ``offload`` is the preset in use (what "auto" chose, with ``offload_reason``)."""
    from storymem_engine.director import Director, DirectorSettings
    from storymem_engine.engine import EngineSettings, StoryMemEngine

    project = _open_project(out, story)
    project.settings = settings
    soundtrack = film_soundtrack(project)  # checked now: a bad one would only fail the film after every shot
    run = settings
    if args.engine == "tiny":
        # As in the editor: the tiny engine is a try-out, so size, frames and steps left at the production defaults
        # run at draft settings (seconds per shot, not ~5 minutes on a laptop CPU). The project keeps the settings
        # as asked, and values given on this command line are kept.
        chosen = {field: getattr(settings, field) for field, flag in
                  (("width", args.size), ("height", args.size), ("frames", args.frames), ("steps", args.steps))
                  if flag is not None}
        run = replace(settings.drafted(), **chosen)
    references = []
    for i, ref in enumerate(args.reference):
        # Named by content: a rerun with another image replaced the one earlier takes record they were made from
        # (and one given from references/ itself was a SameFileError).
        digest = hashlib.sha256(Path(ref).read_bytes()).hexdigest()[:12]
        target = out / "references" / f"reference_{i}_{digest}{Path(ref).suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file():
            shutil.copyfile(ref, target)
        references.append(project.relative(target))

    engine = StoryMemEngine(EngineSettings(
        engine=args.engine, models_dir=args.models, continuation=run.continuation, first_shot=args.first_shot,
        offload=offload, rope_stride=args.rope_stride, text_encoder_on_cpu=settings.text_encoder_on_cpu,
        vae_tiling=settings.vae_tiling, keyframe_similarity=args.keyframe_similarity, clip_weights=args.clip_weights,
        check_memory=not args.skip_memory_check, **_parallel_settings(args),
    ))
    if args.gpus > 1:
        from storymem_engine.multi_gpu import BroadcastingEngine

        engine = BroadcastingEngine(engine)  # the other ranks make each generate() call with it
    director = Director(project, engine, DirectorSettings.from_fields(run.director_fields(), references=references))
    s = run
    print(f"Settings: {s.width}x{s.height}, {s.frames} frames, {s.steps} steps, guidance {s.guidance:g}, seed {s.seed} "
          f"({s.seed_rule}), memory {s.memory_size} (sink {s.memory_sink}), continuation {s.continuation}, "
          f"{s.offload}, profile {s.profile}",
          file=sys.stderr)
    if s.offload == "auto":
        print(f"Offload: {offload_reason or engine.preset_reason}", file=sys.stderr)
    _unused_references_note(args)
    if args.reference:
        from storymem_engine.director import image_size
        from storymem_engine.request import size_for_aspect

        # As the official run: the same area at the reference image's aspect; the film follows the first shot.
        image_w, image_h = image_size(Path(args.reference[0]))
        size = size_for_aspect(s.width, s.height, image_h, image_w)
        if size != (s.width, s.height):
            print(f"Size: {size[0]}x{size[1]}, the area of {s.width}x{s.height} at the aspect of "
                  f"{Path(args.reference[0]).name} ({image_w}x{image_h}), as the official M2V run sizes its shots",
                  file=sys.stderr)
    if s.profile == "draft":
        # The distilled profile fixes its own steps and guidance: a --steps or --guidance given is not used.
        ignored = " and ".join(flag for flag, value in (("--steps", args.steps), ("--guidance", args.guidance))
                               if value is not None)
        unused = f" ({ignored} not used: the draft profile sets its own)" if ignored else ""
        print(f"Profile draft: 4 steps, CFG off{unused}; every take is marked {DRAFT_NOTE!r}.", file=sys.stderr)
    if args.engine == "tiny":
        print("Tiny engine: random-weight models, the output is noise-like test video, not a real render.",
              file=sys.stderr)
        if run != settings:
            drafted = [text for text, changed in (
                (f"{run.width}x{run.height}", (run.width, run.height) != (settings.width, settings.height)),
                (f"{run.frames} frames", run.frames != settings.frames),
                (f"{run.steps} steps", run.steps != settings.steps)) if changed]
            print(f"Tiny engine: draft values where you gave none ({', '.join(drafted)}), seconds per shot; give "
                  "--size, --frames or --steps to choose.", file=sys.stderr)
    if args.keyframe_similarity == "hsv":
        print("Keyframes are picked without CLIP (model-free HSV similarity): the memory may hold fewer, "
              "different images than the method expects.", file=sys.stderr)
    start = time.monotonic()
    project.save()
    skipped = []
    with ConsoleProgress(len(story.shots)) as console:
        takes = director.run(progress=console, on_reason=console.regenerating,
                             on_shot=lambda i, t, s: (console.shot_done(i, t, s), skipped.append(s)),
                             on_reaccepted=lambda i, t: console.reaccepted(i, t.number))
        console.doing("writing film.mp4")
        film_frames = write_film(project, takes, out / "film.mp4", soundtrack)
    write_manifest(project, director, takes, skipped, film_frames, out / "manifest.json")
    if args.gpus > 1:
        from storymem_engine.multi_gpu import finish

        finish()
    print(f"Rendered {len(takes)} shots ({sum(1 for s in skipped if not s)} generated) in "
          f"{time.monotonic() - start:.1f}s -> {out / 'film.mp4'} ({film_frames} frames)", file=sys.stderr)
    return 0


def _parallel_settings(args) -> dict:
    """With --gpus: context parallelism, and this rank's own GPU."""
    if args.gpus < 2:
        return {}
    from storymem_engine.distributed import local_device

    return {"parallel": args.parallel, "device": local_device(), "shard_weights": args.shard_weights}


def film_soundtrack(project):
    """The AudioTrack of the soundtrack set in the editor, for the render's film (None without one); CliError
    naming the file when it is gone or no music."""
    from storymem_engine.soundtrack import AudioTrack, SoundtrackError, project_music

    try:
        found = project_music(project)
    except SoundtrackError as exc:
        raise CliError(f"the project's soundtrack {exc}. Put the file back, or remove or replace it in the editor "
                       "(File > Soundtrack)") from None
    if found is None:
        return None
    music, path, _info = found
    return AudioTrack(path, music.start_s, music.gain_db)


def write_film(project, takes, path: Path, soundtrack=None) -> int:
    from storymem_engine.film_labels import draft_labeller
    from storymem_engine.request import is_draft
    from storymem_engine.video import concat_videos

    # A take trimmed in the editor gives the film its frames between its in and out points, as the app's export;
    # the soundtrack set in the editor plays under it, and a draft take says so on each of its frames, as there.
    label = draft_labeller()
    return concat_videos([project.resolve(t.clip) for t in takes], path, fps=16,
                         ranges=[t.trim_range for t in takes], audio=soundtrack,
                         transforms=[label if is_draft(t) else None for t in takes])


def write_manifest(project, director, takes, skipped, film_frames: int, path: Path) -> None:
    from storymem_engine.atomic import atomic_write_text
    from storymem_engine.story import keyframe_note

    shots = []
    for index, (shot, take) in enumerate(zip(project.story.shots, takes, strict=True)):
        req = take.request
        shots.append({
            "index": index, "shot_id": shot.id, "scene_num": shot.scene_num, "cut": shot.cut,
            "prompt": shot.prompt, "mode": req["mode"], "seed": req["seed"],
            "size": [req["width"], req["height"]], "frames": take.frames, "clip": take.clip,
            "on_the_film": list(take.cut_range()),  # [in, out) frames of the clip (an editor's trim)
            "memory": req["memory"], "memory_keys": req["memory_keys"], "keyframes": take.keyframes,
            "take_id": take.id, "engine": take.engine, "backends": take.backends, "skipped": skipped[index],
            "seed_rule": req.get("seed_rule"), "keyframe_note": keyframe_note(take.backends),
            "profile": req.get("profile", "final"), "profile_note": DRAFT_NOTE if req.get("profile") == "draft" else "",
        })
    manifest = {
        "story_name": project.story.name, "engine": director.engine.label,
        "random_weights": director.engine.settings.engine == "tiny",
        "film": "film.mp4", "film_frames": film_frames, "fps": 16, "shots": shots,
    }
    atomic_write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str]) -> int:
    try:  # Ctrl+C while torch imports (the first second) is a cancel like any other, not a traceback
        from storymem_engine.models import ModelFilesMissing, configure_cuda_allocator

        configure_cuda_allocator()  # before anything imports torch
        from storymem_engine.engine import EngineError, GenerationCancelled
        from storymem_engine.video import VideoError
    except KeyboardInterrupt:
        print("\ncancelled before anything started.", file=sys.stderr)
        return 130

    try:
        args = build_parser().parse_args(argv)
        return cmd_info(args) if args.command == "info" else cmd_render(args, argv)
    except (CliError, StoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModelFilesMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (GenerationCancelled, KeyboardInterrupt):
        print("\ncancelled: finished shots are kept; rerun the same command to continue.", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: what and where, without "[Errno 30]"
        what = exc.strerror or one_line(exc)
        print(f"\nerror: {what}: {exc.filename}" if exc.filename else f"\nerror: {what}", file=sys.stderr)
        return 1
    except (EngineError, VideoError, ValueError, RuntimeError) as exc:
        # LoraError and ClipWeightsError are ValueError/RuntimeError: a bad model file is one line too.
        print(f"\nerror: {one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user; the type says where to look
        print(f"\nerror ({type(exc).__name__}): {one_line(exc)}", file=sys.stderr)
        return 1

