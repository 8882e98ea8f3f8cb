"""Where the models live, what is missing, and how they are loaded and offloaded.

Models folder layout (Diffusers-format repos downloaded as they are):
  <models>/Wan2.2-T2V-A14B-Diffusers/      first shot (T2V)
  <models>/Wan2.2-I2V-A14B-Diffusers/      every other shot (M2V / MI2V / MM2V)
  <models>/StoryMem/Wan2.2-MI2V-A14B/      LoRA: backbone_high_noise.pth, backbone_low_noise.pth
  <models>/StoryMem/Wan2.2-MM2V-A14B/      LoRA for MM2V continuation
  <models>/CLIP-ViT-B-32/                  keyframe similarity: OpenAI CLIP ViT-B/32 in open_clip's format
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

T2V_REPO = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
I2V_REPO = "Wan-AI/Wan2.2-I2V-A14B-Diffusers"
LORA_REPO = "Kevin-thu/StoryMem"
LORA_FOLDERS = {"mi2v": "Wan2.2-MI2V-A14B", "mm2v": "Wan2.2-MM2V-A14B"}
LORA_FILES = ("backbone_high_noise", "backbone_low_noise")
# The reference picks keyframes with OpenAI's CLIP ViT-B/32; this repo holds those weights in open_clip's
# format (config + weights), which open_clip loads from a local folder with no network.
CLIP_REPO = "timm/vit_base_patch32_clip_224.openai"
CLIP_FOLDER = "CLIP-ViT-B-32"
CLIP_CONFIG = "open_clip_config.json"
CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
# Keyframe similarity: "clip" (the models folder's CLIP, the method) or "hsv" (model-free, only when chosen).
KEYFRAME_SIMILARITIES = ("clip", "hsv")

# Lowest VRAM last: an out-of-memory error suggests the next one down.
OFFLOAD_PRESETS = ("full_gpu", "model_offload", "group_offload", "sequential")
OFFLOAD_HELP = {
    "full_gpu": "everything on the GPU (fastest, needs the most VRAM)",
    "model_offload": "one model (one expert) on the GPU at a time",
    "group_offload": "layer groups streamed to the GPU (low VRAM)",
    "sequential": "every module moved on demand (lowest VRAM, slowest)",
}
# Presets that also tile the VAE: the reference encodes whole frames, which needs more VRAM than they leave.
LOW_VRAM_PRESETS = ("group_offload", "sequential")

_COMPONENTS = ("transformer", "transformer_2", "vae", "text_encoder")


class ModelFilesMissing(FileNotFoundError):
    def __init__(self, missing: list[str], commands: list[str]) -> None:
        self.missing = missing
        self.commands = commands
        lines = ["StoryMem models are incomplete. Missing files:"]
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


def _weights_missing(folder: Path, stem: str) -> list[Path]:
    """Missing weight files of one component: a single file, or the index and every shard it names."""
    single = folder / f"{stem}.safetensors"
    index = folder / f"{stem}.safetensors.index.json"
    if single.is_file():
        return []
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError):
            return [index]
        return [folder / s for s in shards if not (folder / s).is_file()]
    return [index if folder.name in ("transformer", "transformer_2", "text_encoder") else single]


def _diffusers_repo_missing(repo: Path) -> list[Path]:
    missing = [p for p in (repo / "model_index.json", repo / "scheduler" / "scheduler_config.json") if not p.is_file()]
    tok = repo / "tokenizer"
    if not (tok / "tokenizer_config.json").is_file():
        missing.append(tok / "tokenizer_config.json")
    if not ((tok / "tokenizer.json").is_file() or (tok / "spiece.model").is_file()):
        missing.append(tok / "spiece.model")
    for comp in _COMPONENTS:
        folder = repo / comp
        if not (folder / "config.json").is_file():
            missing.append(folder / "config.json")
        stem = "model" if comp == "text_encoder" else "diffusion_pytorch_model"
        missing += _weights_missing(folder, stem)
    return missing


def lora_file(folder: Path, name: str) -> Path | None:
    for ext in (".safetensors", ".pth", ".pt"):
        if (folder / f"{name}{ext}").is_file():
            return folder / f"{name}{ext}"
    return None


def clip_files_missing(folder: Path) -> list[Path]:
    """Missing files of an open_clip model folder: its config and one weights file."""
    missing = [] if (folder / CLIP_CONFIG).is_file() else [folder / CLIP_CONFIG]
    if not any((folder / name).is_file() for name in CLIP_WEIGHTS):
        missing.append(folder / CLIP_WEIGHTS[0])
    return missing


def missing_model_files(folder, continuation: str = "mi2v", first_shot: str = "t2v", clip: bool = True,
                        only_clip: bool = False) -> list[str]:
    """Every file the engine needs that is not in `folder`, as paths relative to it.

    ``clip``: keyframes are picked with CLIP (the method's default), so its weights are needed too.
    """
    layout = ModelLayout(Path(folder), continuation)
    missing: list[Path] = []
    if not only_clip:
        missing += _diffusers_repo_missing(layout.i2v)
        if first_shot == "t2v":
            missing += _diffusers_repo_missing(layout.t2v)
        for name in LORA_FILES:
            if lora_file(layout.lora, name) is None:
                missing.append(layout.lora / f"{name}.pth")
    if clip:
        missing += clip_files_missing(layout.clip)
    return [p.relative_to(layout.root).as_posix() for p in missing]


def download_commands(folder, continuation: str = "mi2v", first_shot: str = "t2v", clip: bool = True,
                      only_clip: bool = False) -> list[str]:
    layout = ModelLayout(Path(folder), continuation)
    cmds = []
    if not only_clip:
        cmds.append(f'hf download {I2V_REPO} --local-dir "{layout.i2v}"')
        if first_shot == "t2v":
            cmds.insert(0, f'hf download {T2V_REPO} --local-dir "{layout.t2v}"')
        lora_dir = layout.root / "StoryMem"
        cmds.append(f'hf download {LORA_REPO} --include "{LORA_FOLDERS[continuation]}/*" --local-dir "{lora_dir}"')
    if clip:
        cmds.append(f'hf download {CLIP_REPO} {CLIP_CONFIG} {CLIP_WEIGHTS[0]} --local-dir "{layout.clip}"')
    return cmds


def check_models(folder, continuation: str = "mi2v", first_shot: str = "t2v", clip: bool = True,
                 only_clip: bool = False) -> ModelLayout:
    """Raise ModelFilesMissing (listing every file) before anything heavy is loaded."""
    if continuation not in LORA_FOLDERS:
        raise ValueError(f"unknown continuation {continuation!r} (expected mi2v or mm2v)")
    missing = missing_model_files(folder, continuation, first_shot, clip, only_clip)
    if missing:
        raise ModelFilesMissing(missing, download_commands(folder, continuation, first_shot, clip, only_clip))
    return ModelLayout(Path(folder), continuation)


def next_lower_preset(preset: str) -> str | None:
    i = OFFLOAD_PRESETS.index(preset)
    return OFFLOAD_PRESETS[i + 1] if i + 1 < len(OFFLOAD_PRESETS) else None


def check_offload(preset: str) -> str:
    if preset not in OFFLOAD_PRESETS:
        raise ValueError(f"unknown offload preset {preset!r} (expected one of: {', '.join(OFFLOAD_PRESETS)})")
    return preset


def apply_offload(pipe, preset: str, device, text_encoder_on_cpu: bool = False) -> None:
    """Place a pipeline's models on `device` according to an offload preset.

    On a CPU-only run (the tiny engine, tests) everything simply lives on the CPU. Model and
    sequential offload chain hooks across a pipeline's components, so the engine re-applies them
    whenever it switches between the T2V and M2V pipelines (which share the VAE and text encoder);
    group offload is per module and is applied once per module.
    """
    import torch

    check_offload(preset)
    device = torch.device(device)
    # The UMT5-XXL encoder runs once per shot: keeping it on the CPU saves ~11 GB of VRAM for a few
    # seconds per shot. diffusers' Wan pipelines feed the text encoder on its own device.
    pipe._exclude_from_cpu_offload = ["text_encoder"] if text_encoder_on_cpu else []
    if device.type == "cpu" or preset == "full_gpu":
        pipe.to(device)
        if text_encoder_on_cpu and pipe.text_encoder is not None:
            pipe.text_encoder.to("cpu")
    elif preset == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    elif preset == "group_offload":
        from diffusers.hooks import apply_group_offloading
        from diffusers.hooks.group_offloading import _is_group_offload_enabled

        names = ("transformer", "transformer_2", "vae") if text_encoder_on_cpu else (
            "transformer", "transformer_2", "text_encoder", "vae")
        for name in names:
            module = getattr(pipe, name, None)
            if module is not None and not _is_group_offload_enabled(module):
                apply_group_offloading(module, onload_device=device, offload_device=torch.device("cpu"),
                                       offload_type="leaf_level", use_stream=True)
    else:
        pipe.enable_sequential_cpu_offload(device=device)


def release_offload(pipe, preset: str) -> None:
    """Undo what apply_offload did to a pipeline that is not in use, before another one runs."""
    import torch

    if preset in ("model_offload", "sequential"):
        pipe.remove_all_hooks()
    elif preset == "full_gpu":
        for name in ("transformer", "transformer_2"):
            module = getattr(pipe, name, None)
            if module is not None:
                module.to(torch.device("cpu"))


def quiet_libraries() -> None:
    """Our own progress reporting replaces the libraries' tqdm bars and info logs."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_pipelines(layout: ModelLayout, need_t2v: bool, transformer_dtype, vae_tiling: bool = False):
    """Load the I2V pipeline (and the T2V one when asked) sharing one VAE and one text encoder.

    Transformers in `transformer_dtype` (bf16 on a GPU), the VAE in fp32 as Wan recommends.
    """
    import torch
    from diffusers import AutoencoderKLWan, WanPipeline
    from transformers import AutoTokenizer, UMT5EncoderModel

    from storymem_engine.pipeline import StoryMemPipeline

    quiet_libraries()

    vae = AutoencoderKLWan.from_pretrained(layout.i2v, subfolder="vae", dtype=torch.float32)
    if vae_tiling:
        vae.enable_tiling()
    tokenizer = AutoTokenizer.from_pretrained(layout.i2v, subfolder="tokenizer")
    text_encoder = UMT5EncoderModel.from_pretrained(layout.i2v, subfolder="text_encoder", dtype=transformer_dtype)
    shared = {"vae": vae, "tokenizer": tokenizer, "text_encoder": text_encoder}
    m2v = StoryMemPipeline.from_pretrained(
        layout.i2v, dtype=transformer_dtype, image_encoder=None, image_processor=None, **shared
    )
    t2v = WanPipeline.from_pretrained(layout.t2v, dtype=transformer_dtype, **shared) if need_t2v else None
    for pipe in (t2v, m2v):
        if pipe is not None:
            pipe.set_progress_bar_config(disable=True)
    return t2v, m2v
