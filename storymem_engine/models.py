"""Where the models live, what is missing, and how they are loaded and offloaded.

Models folder layout (Diffusers-format repos downloaded as they are):
  <models>/Wan2.2-T2V-A14B-Diffusers/      first shot (T2V)
  <models>/Wan2.2-I2V-A14B-Diffusers/      every other shot (M2V / MI2V / MM2V)
  <models>/StoryMem/Wan2.2-MI2V-A14B/      LoRA: backbone_high_noise.pth, backbone_low_noise.pth
  <models>/StoryMem/Wan2.2-MM2V-A14B/      LoRA for MM2V continuation
  <models>/CLIP-ViT-B-32/                  keyframe similarity: OpenAI CLIP ViT-B/32 in open_clip's format
  <models>/Wan2.2-Distill-Loras/           optional, draft profile only: lightx2v's 4-step distilled LoRAs
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storymem_engine.model_files import file_problem

T2V_REPO = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
I2V_REPO = "Wan-AI/Wan2.2-I2V-A14B-Diffusers"
LORA_REPO = "Kevin-thu/StoryMem"
LORA_FOLDERS = {"mi2v": "Wan2.2-MI2V-A14B", "mm2v": "Wan2.2-MM2V-A14B"}
LORA_FILES = ("backbone_high_noise", "backbone_low_noise")
LORA_EXTENSIONS = (".safetensors", ".pth")  # what the loader reads (lora.py); the models check asks for the same
# The reference picks keyframes with OpenAI's CLIP ViT-B/32; this repo holds those weights in open_clip's
# format (config + weights), which open_clip loads from a local folder with no network.
CLIP_REPO = "timm/vit_base_patch32_clip_224.openai"
CLIP_FOLDER = "CLIP-ViT-B-32"
CLIP_CONFIG = "open_clip_config.json"
CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
# Draft profile only (optional: a final render never needs them): lightx2v's 4-step distilled LoRAs, one per
# expert, stacked on the StoryMem LoRA. The I2V pair serves every M2V/MI2V/MM2V shot, the T2V pair a T2V first shot.
DISTILL_REPO = "lightx2v/Wan2.2-Distill-Loras"
DISTILL_FOLDER = "Wan2.2-Distill-Loras"
DISTILL_FILES = {
    "m2v": ("wan2.2_i2v_A14b_high_noise_lora_rank64_lightx2v_4step_1022.safetensors",
            "wan2.2_i2v_A14b_low_noise_lora_rank64_lightx2v_4step_1022.safetensors"),
    "t2v": ("wan2.2_t2v_A14b_high_noise_lora_rank64_lightx2v_4step_1217.safetensors",
            "wan2.2_t2v_A14b_low_noise_lora_rank64_lightx2v_4step_1217.safetensors"),
}
# Keyframe similarity: "clip" (the models folder's CLIP, the method) or "hsv" (model-free, only when chosen).
KEYFRAME_SIMILARITIES = ("clip", "hsv")

# Lowest VRAM last: an out-of-memory error suggests the next one down.
OFFLOAD_PRESETS = ("full_gpu", "model_offload", "fp8_offload", "group_offload", "sequential")
OFFLOAD_HELP = {
    "full_gpu": "everything on the GPU (fastest, needs the most VRAM)",
    "model_offload": "one model (one expert) on the GPU at a time",
    "fp8_offload": "experts stored in fp8, computed in bf16, one at a time on the GPU: a 24 GB GPU with "
                   "64 GB of RAM (not bit-exact to the method)",
    "group_offload": "layer groups streamed to the GPU (low VRAM, needs the most RAM)",
    "sequential": "every module moved on demand (lowest VRAM, slowest)",
}
# "auto" is no preset: EngineSettings accepts it and the engine replaces it, when it starts, with the fastest preset
# that fits this machine (accounting.choose_preset). Everything that applies a preset sees a real one.
AUTO_OFFLOAD = "auto"
OFFLOAD_CHOICES = (AUTO_OFFLOAD, *OFFLOAD_PRESETS)
# Attention kernels through diffusers' dispatcher. "auto": flash-attn or SageAttention on CUDA when importable,
# else PyTorch's SDPA ("native", what diffusers uses when nothing is set).
ATTENTION_BACKENDS = ("auto", "native", "flash", "sage")
# Presets whose numbers are the method's own (bf16 weights): the only ones an automatic retry may switch to.
EXACT_PRESETS = ("full_gpu", "model_offload", "group_offload", "sequential")
FP8_PRESETS = ("fp8_offload",)
# Presets that also tile the VAE: the reference encodes whole frames, which needs more VRAM than they leave.
LOW_VRAM_PRESETS = ("group_offload", "sequential")

_COMPONENTS = ("transformer", "transformer_2", "vae", "text_encoder")


class ModelFilesMissing(FileNotFoundError):
    def __init__(self, missing: list[str], commands: list[str]) -> None:
        self.missing = missing
        self.commands = commands
        lines = ["StoryMem models are incomplete. Missing or unusable files:"]
        lines += [f"  - {m}" for m in missing]
        lines += ["Download them with:"] + [f"  {c}" for c in commands]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ModelLayout:
    root: Path
    continuation: str = "mi2v"

    @property
    def t2v(self) -> Path:
        return self.root / T2V_REPO.split("/")[1]

    @property
    def i2v(self) -> Path:
        return self.root / I2V_REPO.split("/")[1]

    @property
    def lora(self) -> Path:
        return self.root / "StoryMem" / LORA_FOLDERS[self.continuation]

    @property
    def clip(self) -> Path:
        return self.root / CLIP_FOLDER

    @property
    def distill(self) -> Path:
        return self.root / DISTILL_FOLDER

    def distill_files(self, kind: str) -> tuple[Path, Path]:
        """(high-noise, low-noise) distilled LoRA of a pipeline kind ("t2v" or "m2v")."""
        high, low = DISTILL_FILES[kind]
        return self.distill / high, self.distill / low


def _usable(path: Path) -> bool:
    """There, and whole as far as its size and header tell (model_files.py): a cut-off download is not there."""
    return path.is_file() and not file_problem(path)


def _weights_missing(folder: Path, stem: str) -> list[Path]:
    """Missing weight files of one component: a single file, or the index and every shard it names."""
    single = folder / f"{stem}.safetensors"
    index = folder / f"{stem}.safetensors.index.json"
    if single.is_file():
        return [] if _usable(single) else [single]
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [folder / s for s in shards if not _usable(folder / s)]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a cut-off or foreign index: fetch it again
            return [index]
    return [index if folder.name in ("transformer", "transformer_2", "text_encoder") else single]


def _diffusers_repo_missing(repo: Path, experts_only: bool = False) -> list[Path]:
    """Missing files of a Wan repo; ``experts_only``: just what the T2V repo contributes (its two experts and
    scheduler: text encoder, tokenizer and VAE come from the I2V repo, the same files in both)."""
    missing = [p for p in (repo / "model_index.json", repo / "scheduler" / "scheduler_config.json") if not _usable(p)]
    components = _COMPONENTS[:2] if experts_only else _COMPONENTS
    tok = repo / "tokenizer"
    if not experts_only and not _usable(tok / "tokenizer_config.json"):
        missing.append(tok / "tokenizer_config.json")
    if not experts_only and not (_usable(tok / "tokenizer.json") or _usable(tok / "spiece.model")):
        missing.append(tok / "spiece.model")
    for comp in components:
        folder = repo / comp
        if not _usable(folder / "config.json"):
            missing.append(folder / "config.json")
        stem = "model" if comp == "text_encoder" else "diffusion_pytorch_model"
        missing += _weights_missing(folder, stem)
    return missing


def lora_file(folder: Path, name: str) -> Path | None:
    for ext in LORA_EXTENSIONS:
        if (folder / f"{name}{ext}").is_file():
            return folder / f"{name}{ext}"
    return None


def clip_files_missing(folder: Path) -> list[Path]:
    """Missing files of an open_clip model folder: its config and one weights file."""
    missing = [] if _usable(folder / CLIP_CONFIG) else [folder / CLIP_CONFIG]
    if not any(_usable(folder / name) for name in CLIP_WEIGHTS):
        there = [folder / name for name in CLIP_WEIGHTS if (folder / name).is_file()]
        missing.append(there[0] if there else folder / CLIP_WEIGHTS[0])
    return missing


def _distill_kinds(first_shot: str) -> tuple[str, ...]:
    return ("t2v", "m2v") if first_shot == "t2v" else ("m2v",)


def distill_lora_missing(models_dir, kinds: tuple[str, ...] = ("t2v", "m2v")) -> list[str]:
    """The draft profile's distilled LoRA files missing from `models_dir`, relative to it ([] when all are there).

    ``kinds``: the pipelines drafted ("m2v" for every continuing shot, "t2v" for a T2V first shot).
    """
    layout = ModelLayout(Path(models_dir))
    missing = [p for kind in kinds for p in layout.distill_files(kind) if not _usable(p)]
    return [_named(p, layout.root) for p in missing]


def distill_download_command(models_dir, kinds: tuple[str, ...] = ("t2v", "m2v")) -> str:
    """The `hf download` command that fetches the draft profile's distilled LoRAs into the models folder."""
    layout = ModelLayout(Path(models_dir))
    names = " ".join(name for kind in kinds for name in DISTILL_FILES[kind])
    return f'hf download {DISTILL_REPO} {names} --local-dir "{layout.distill}"'


def storymem_lora_missing(models_dir, continuation: str = "mi2v") -> list[str]:
    """The StoryMem LoRA files (high- and low-noise) of a continuation missing from `models_dir`, relative to it."""
    layout = ModelLayout(Path(models_dir), continuation)
    found = {name: lora_file(layout.lora, name) for name in LORA_FILES}
    return [_named(found[name] or layout.lora / f"{name}.pth", layout.root)
            for name in LORA_FILES if found[name] is None or not _usable(found[name])]


def missing_model_files(folder, continuation: str = "mi2v", first_shot: str = "t2v", clip: bool = True,
                        draft: bool = False) -> list[str]:
    """Every file the engine needs that is not in `folder`, as paths relative to it.

    ``clip``: keyframes are picked with CLIP (the method's default), so its weights are needed too.
    ``draft``: the draft profile's distilled LoRAs too (optional files: a final render never needs them).
    """
    layout = ModelLayout(Path(folder), continuation)
    missing = _diffusers_repo_missing(layout.i2v)
    if first_shot == "t2v":
        missing += _diffusers_repo_missing(layout.t2v, experts_only=True)
    found = [_named(p, layout.root) for p in missing] + storymem_lora_missing(folder, continuation)
    if clip:
        found += [_named(p, layout.root) for p in clip_files_missing(layout.clip)]
    return found + (distill_lora_missing(folder, _distill_kinds(first_shot)) if draft else [])


def _named(path: Path, root: Path) -> str:
    """A file the engine needs, relative to the models folder. One that is there but cannot be used (cut off, empty,
    a foreign index) says why, or a user who sees it on disk reads "missing" as a mistake."""
    name = path.relative_to(root).as_posix()
    if not path.is_file():
        return name
    return f"{name} (there, but {file_problem(path) or 'unreadable or incomplete'})"


def download_commands(folder, continuation: str = "mi2v", first_shot: str = "t2v", clip: bool = True,
                      draft: bool = False, missing: list[str] | None = None) -> list[str]:
    """The `hf download` commands for the models; ``missing`` (missing_model_files' list): only those that fetch
    one of them, so a user missing the CLIP weights is not sent to download 120 GB again."""
    layout = ModelLayout(Path(folder), continuation)
    cmds: list[tuple[str, str]] = []  # (the folder it fills, relative, with "/"; the command)
    if first_shot == "t2v":
        # Only its experts and scheduler: the text encoder and VAE are shared with the I2V repo.
        cmds.append((layout.t2v.name + "/", f'hf download {T2V_REPO} --include "transformer/*" "transformer_2/*" '
                                           f'"scheduler/*" model_index.json --local-dir "{layout.t2v}"'))
    cmds.append((layout.i2v.name + "/", f'hf download {I2V_REPO} --local-dir "{layout.i2v}"'))
    cmds.append((layout.lora.relative_to(layout.root).as_posix() + "/", lora_download_command(folder, continuation)))
    if clip:
        cmds.append((CLIP_FOLDER + "/",
                     f'hf download {CLIP_REPO} {CLIP_CONFIG} {CLIP_WEIGHTS[0]} --local-dir "{layout.clip}"'))
    if draft:
        cmds.append((DISTILL_FOLDER + "/", distill_download_command(folder, _distill_kinds(first_shot))))
    return [cmd for place, cmd in cmds if missing is None or any(m.startswith(place) for m in missing)]


def models_folder_problem(folder, what_to_do: str = "Choose the folder the models were downloaded into.") -> str:
    """What is wrong with the models folder itself ("" when it is a folder): 22 "missing" files and their downloads
    would hide the one thing wrong. ``what_to_do`` ends the no-such-folder case (the app and the CLI differ)."""
    path = Path(folder).expanduser()
    if path.is_dir():
        return ""
    if path.exists():
        return f"{folder} is a file, not a folder."
    return f"No such folder: {folder}. {what_to_do}"


def lora_download_command(folder, continuation: str = "mi2v") -> str:
    """The `hf download` command that fetches a continuation's StoryMem LoRA pair into the models folder."""
    lora_dir = Path(folder) / "StoryMem"
    return f'hf download {LORA_REPO} --include "{LORA_FOLDERS[continuation]}/*" --local-dir "{lora_dir}"'


def check_models(folder, continuation: str = "mi2v", first_shot: str = "t2v", clip: bool = True,
                 draft: bool = False) -> ModelLayout:
    """Raise ModelFilesMissing (listing every file) before anything heavy is loaded.

    ``draft``: the draft profile's distilled LoRAs are required too (a final render never asks for them)."""
    if continuation not in LORA_FOLDERS:
        raise ValueError(f"unknown continuation {continuation!r} (expected mi2v or mm2v)")
    missing = missing_model_files(folder, continuation, first_shot, clip, draft)
    if missing:
        raise ModelFilesMissing(missing, download_commands(folder, continuation, first_shot, clip, draft, missing))
    return ModelLayout(Path(folder), continuation)


def next_lower_preset(preset: str, exact_only: bool = False) -> str | None:
    """The preset with the next lower VRAM need; ``exact_only`` skips the fp8 one (for automatic retries)."""
    order = EXACT_PRESETS if exact_only else OFFLOAD_PRESETS
    if preset not in order:
        preset = "model_offload"  # fp8_offload sits between model_offload and group_offload
    i = order.index(preset)
    return order[i + 1] if i + 1 < len(order) else None


def check_offload(preset: str) -> str:
    if preset not in OFFLOAD_PRESETS:
        raise ValueError(f"unknown offload preset {preset!r} (expected one of: {', '.join(OFFLOAD_PRESETS)})")
    return preset


def text_encoder_stays_on_cpu(preset: str, text_encoder_on_cpu: bool) -> bool:
    """Whether prompts are encoded on the CPU. Always under ``sequential``: accelerate's per-module offload
    turns UMT5's tied embedding into a plain tensor and fails on the next prompt (accelerate 1.15,
    transformers 5), and the lowest-VRAM preset is better off without 10.6 GiB of encoder on the GPU."""
    return text_encoder_on_cpu or preset == "sequential"


def apply_offload(pipe, preset: str, device, text_encoder_on_cpu: bool = False) -> None:
    """Place a pipeline's models on `device` according to an offload preset.

    The real hook paths run on any device (on a CPU they move nothing but are the same code), so tests see
    what a GPU run does. Model and sequential offload chain hooks across a pipeline's components, so the
    engine removes them (release_offload) before it activates the other pipeline, which shares the VAE and
    text encoder. When the text encoder stays on the CPU it is taken out of the pipeline while the preset is
    applied: diffusers hooks every component of its offload chain (excluded or not) and re-hooks them after
    each call, so only an encoder the pipeline does not hold stays put. ``encode_prompt_on_cpu`` uses it.
    """
    import torch

    check_offload(preset)
    device = torch.device(device)
    if text_encoder_stays_on_cpu(preset, text_encoder_on_cpu) and pipe.text_encoder is not None:
        pipe._cpu_text_encoder = pipe.text_encoder
        pipe.text_encoder = None
        pipe._cpu_text_encoder.to("cpu")
    if preset == "full_gpu":
        pipe.to(device)
    elif preset in ("model_offload", "fp8_offload"):
        pipe.enable_model_cpu_offload(device=device)
    elif preset == "group_offload":
        from diffusers.hooks import apply_group_offloading
        from diffusers.hooks.group_offloading import _is_group_offload_enabled

        for name in ("transformer", "transformer_2", "text_encoder", "vae"):
            module = getattr(pipe, name, None)
            if module is not None and not _is_group_offload_enabled(module):
                # low_cpu_mem_usage pins each group as it is streamed instead of a pinned copy of every tensor
                # up front (which doubled the experts in RAM and was never released).
                apply_group_offloading(module, onload_device=device, offload_device=torch.device("cpu"),
                                       offload_type="leaf_level", use_stream=device.type == "cuda",
                                       low_cpu_mem_usage=True)
    elif device.type == "cpu":
        # accelerate's per-module hooks cannot run with the CPU as execution device (moving a weight "to the
        # CPU" keeps no Parameter, and the next move to meta raises); on a CPU nothing would move anyway.
        # bench/gpu_reference_check.py runs this preset's hooks on CUDA.
        pipe.to(device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)


def encode_prompt_on_cpu(pipe, prompt: str, negative_prompt: str, guidance: float):
    """(embeddings, negative embeddings) from the encoder that apply_offload kept on the CPU."""
    import torch

    encoder = getattr(pipe, "_cpu_text_encoder", None) or pipe.text_encoder
    held, pipe.text_encoder = pipe.text_encoder, encoder
    try:
        with torch.no_grad():
            return pipe.encode_prompt(prompt=prompt, negative_prompt=negative_prompt,
                                      do_classifier_free_guidance=guidance > 1.0, num_videos_per_prompt=1,
                                      max_sequence_length=512, device=torch.device("cpu"))
    finally:
        pipe.text_encoder = held


def remove_group_offload(module) -> None:
    from diffusers.hooks import HookRegistry
    from diffusers.hooks.group_offloading import (
        _GROUP_OFFLOADING,
        _LAYER_EXECUTION_TRACKER,
        _LAZY_PREFETCH_GROUP_OFFLOADING,
        _is_group_offload_enabled,
    )

    if module is None or not _is_group_offload_enabled(module):
        return
    registry = HookRegistry.check_if_exists_or_initialize(module)
    for name in (_GROUP_OFFLOADING, _LAYER_EXECUTION_TRACKER, _LAZY_PREFETCH_GROUP_OFFLOADING):
        registry.remove_hook(name, recurse=True)
    module.to("cpu")


def release_offload(pipe, preset: str) -> None:
    """Undo what apply_offload did to a pipeline that is not in use: hooks removed, weights back on the CPU."""
    import torch

    if preset in ("model_offload", "fp8_offload", "sequential"):
        pipe.remove_all_hooks()
    if preset == "group_offload":
        for name in ("transformer", "transformer_2", "text_encoder", "vae"):
            remove_group_offload(getattr(pipe, name, None))
    encoder = pipe.__dict__.pop("_cpu_text_encoder", None)
    if encoder is not None:
        pipe.text_encoder = encoder
    from storymem_engine.distributed import is_sharded

    for name in ("transformer", "transformer_2", "text_encoder", "vae"):
        module = getattr(pipe, name, None)
        if module is not None and not is_sharded(module):  # a sharded expert's pieces stay on their GPUs
            module.to(torch.device("cpu"))


def configure_cuda_allocator() -> None:
    """Expandable segments for the engine's process, set before torch initialises CUDA: a shot's tensors grow
    (32k tokens for T2V, 48k for M2V) and full_gpu leaves ~6 GiB of headroom on 80 GB, where fixed-size
    segments fragment. A value the user set is kept."""
    import os

    os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")


def free_memory() -> None:
    """Collect what the offload hooks' reference cycles keep alive, then give cached CUDA blocks back."""
    import gc

    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()


def quiet_libraries() -> None:
    """Our own progress reporting replaces the libraries' tqdm bars and info logs."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


@dataclass
class SharedParts:
    """The text encoder, tokenizer and VAE: the same files in the T2V and I2V repos, loaded once."""

    vae: Any
    tokenizer: Any
    text_encoder: Any


def load_shared(layout: ModelLayout, dtype, vae_tiling: bool = False) -> SharedParts:
    """From the I2V repo: UMT5 in `dtype` (bf16 on a GPU), the VAE in fp32 as Wan recommends."""
    import torch
    from diffusers import AutoencoderKLWan
    from transformers import AutoTokenizer, UMT5EncoderModel

    quiet_libraries()
    vae = AutoencoderKLWan.from_pretrained(layout.i2v, subfolder="vae", dtype=torch.float32, low_cpu_mem_usage=True)
    if vae_tiling:  # the reference encodes whole frames; tiles only when asked or in a low-VRAM preset
        vae.enable_tiling()
    tokenizer = AutoTokenizer.from_pretrained(layout.i2v, subfolder="tokenizer")
    text_encoder = UMT5EncoderModel.from_pretrained(layout.i2v, subfolder="text_encoder", dtype=dtype,
                                                    low_cpu_mem_usage=True)
    return SharedParts(vae.eval(), tokenizer, text_encoder.eval())


def load_expert(repo: Path, subfolder: str, dtype):
    """One expert, read shard by shard straight into `dtype` (no fp32 copy of 14B parameters)."""
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel.from_pretrained(repo, subfolder=subfolder, dtype=dtype,
                                                 low_cpu_mem_usage=True).eval()


def store_in_fp8(transformer, compute_dtype) -> None:
    """fp8 (e4m3) storage, `compute_dtype` compute, layer by layer (diffusers' layerwise casting).

    Skipped, as diffusers skips them by default: patch and condition embeddings and norms; and the LoRA's
    A/B matrices, which are small and would lose most of their precision in fp8.
    """
    import torch

    patterns = tuple(transformer._skip_layerwise_casting_patterns or ()) + ("lora_",)
    transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute_dtype,
                                         skip_modules_pattern=patterns)


def build_pipeline(kind: str, repo: Path, shared: SharedParts, experts, boundary_ratio: float):
    """A T2V (`WanPipeline`) or M2V (`StoryMemPipeline`) pipeline around loaded parts: nothing loads twice."""
    from diffusers import UniPCMultistepScheduler, WanPipeline

    from storymem_engine.pipeline import StoryMemPipeline

    scheduler = UniPCMultistepScheduler.from_pretrained(repo, subfolder="scheduler")
    parts = dict(tokenizer=shared.tokenizer, text_encoder=shared.text_encoder, vae=shared.vae, scheduler=scheduler,
                 transformer=experts[0], transformer_2=experts[1], boundary_ratio=boundary_ratio)
    if kind == "t2v":
        pipe = WanPipeline(**parts)
    else:
        pipe = StoryMemPipeline(image_encoder=None, image_processor=None, **parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe
