"""Application preferences in QSettings: engine, models folder, keyframe similarity, queue behaviour, and the
render settings a new project starts with (a project keeps its own: storymem_engine.render_settings)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from PySide6.QtCore import QSettings

from storyboard.settings_values import as_text, can_look_up
from storymem_engine.models import ATTENTION_BACKENDS, KEYFRAME_SIMILARITIES, LORA_FOLDERS, OFFLOAD_CHOICES
from storymem_engine.multi_gpu import MAX_GPUS, PARALLEL_MODES
from storymem_engine.render_settings import RenderSettings
from storymem_engine.request import PROFILES, SEED_RULES

ENGINES = ("wan", "tiny")


# RenderSettings field -> the preference that holds a new project's value (width and height: default_size).
RENDER_PREFERENCES = {
    "frames": "default_frames", "steps": "default_steps", "guidance": "default_guidance", "seed": "default_seed",
    "seed_rule": "seed_rule", "memory_size": "memory_size", "memory_sink": "memory_sink",
    "keyframes_per_shot": "keyframes_per_shot", "keyframe_threshold": "keyframe_threshold",
    "keyframe_memory_dedup": "keyframe_memory_dedup", "offload": "offload", "vae_tiling": "vae_tiling",
    "text_encoder_on_cpu": "text_encoder_on_cpu", "profile": "default_profile",
    "continuation": "default_continuation",
}


@dataclass
class AppSettings:
    engine: str = "wan"  # "wan" (real models) or "tiny" (random weights, checks the install)
    models_folder: str = ""
    offload: str = "auto"
    memory_size: int = 10
    memory_sink: int = 3
    # Mirrors storymem_engine.keyframes.KeyframeSettings (threshold_start, max_keyframes, memory_dedup).
    keyframe_threshold: float = 0.9
    keyframes_per_shot: int = 3
    keyframe_memory_dedup: float = 0.9
    default_frames: int = 81
    default_steps: int = 40
    default_guidance: float = 3.5
    default_size: str = "832x480"
    default_seed: int = 0
    default_profile: str = "final"
    default_continuation: str = "mi2v"  # which StoryMem LoRA a new project continues shots with (mi2v or mm2v)
    # A failed shot stops the queue by default: later shots would continue from memory it never made.
    continue_after_failure: bool = False
    # "clip": CLIP ViT-B/32 from the models folder, as the method; "hsv": model-free, takes say so.
    keyframe_similarity: str = "clip"
    # Tiled VAE encode/decode (less VRAM); the official run encodes whole frames. Low-VRAM presets tile anyway.
    vae_tiling: bool = False
    text_encoder_on_cpu: bool = False
    seed_rule: str = "scene"  # shot seed = seed + index within its scene (official) or + index in the story
    memory_rope_stride: int = 1  # S of the memory RoPE (1 = the public release); an advanced setting
    attention_backend: str = "auto"  # models.ATTENTION_BACKENDS, through diffusers' attention dispatcher
    compile_blocks: bool = False  # regional torch.compile of the experts' repeated blocks (slow first shot)
    # Split every shot across this many GPUs (context parallelism, one engine process per GPU); a machine setting,
    # not a project's: the same project renders the same shots on 1 or N GPUs.
    gpus_per_shot: int = 1
    parallel_mode: str = "ulysses"  # multi_gpu.PARALLEL_MODES
    shard_weights: bool = False  # with gpus_per_shot > 1: each GPU keeps 1/N of the experts (FSDP2)

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.default_size.lower().split("x")
        return int(width), int(height)

    def render_defaults(self) -> RenderSettings:
        """The render settings a new project (or one saved without settings) starts with."""
        width, height = self.size
        values = {field: getattr(self, pref) for field, pref in RENDER_PREFERENCES.items()}
        values["memory_sink"] = min(values["memory_sink"], values["memory_size"])
        return RenderSettings(width=width, height=height, **values)

    def with_render_defaults(self, render: RenderSettings) -> AppSettings:
        return replace(self, default_size=f"{render.width}x{render.height}",
                       **{pref: getattr(render, field) for field, pref in RENDER_PREFERENCES.items()})

    @classmethod
    def load(cls, store: QSettings | None = None) -> AppSettings:
        store = store or QSettings()
        values = {}
        for f in fields(cls):
            raw = store.value(f"settings/{f.name}")
            if raw is None:
                continue
            try:
                values[f.name] = _cast(f.default, raw)
            except (TypeError, ValueError):
                continue  # a corrupt value falls back to the default
        settings = cls(**values)
        if settings.offload not in OFFLOAD_CHOICES:
            settings.offload = cls.offload
        if settings.engine not in ENGINES:
            settings.engine = cls.engine
        if settings.keyframe_similarity not in KEYFRAME_SIMILARITIES:
            settings.keyframe_similarity = cls.keyframe_similarity
        if settings.seed_rule not in SEED_RULES:
            settings.seed_rule = cls.seed_rule
        if settings.attention_backend not in ATTENTION_BACKENDS:
            settings.attention_backend = cls.attention_backend
        if not 1 <= settings.gpus_per_shot <= MAX_GPUS:
            settings.gpus_per_shot = cls.gpus_per_shot
        if settings.parallel_mode not in PARALLEL_MODES:
            settings.parallel_mode = cls.parallel_mode
        if settings.memory_rope_stride < 1:
            settings.memory_rope_stride = cls.memory_rope_stride
        if settings.default_profile not in PROFILES:
            settings.default_profile = cls.default_profile
        if settings.default_continuation not in LORA_FOLDERS:
            settings.default_continuation = cls.default_continuation
        if settings.models_folder and not can_look_up(settings.models_folder):
            settings.models_folder = cls.models_folder  # every model check would raise on it: "not set" instead
        try:
            broken = settings.render_defaults().problems()
        except ValueError:  # a size that is not WxH
            broken = ["size"]
        if broken:  # hand-edited or corrupt defaults: the built-in ones, not a window that cannot open
            settings = settings.with_render_defaults(RenderSettings())
        return settings

    def save(self, store: QSettings | None = None) -> None:
        store = store or QSettings()
        for name, value in asdict(self).items():
            store.setValue(f"settings/{name}", value)
        store.sync()


def _cast(default: object, raw: object) -> object:
    if isinstance(default, str):
        text = as_text(raw)
        if text is None:
            raise TypeError(f"expected text, got {type(raw).__name__}")  # a QRect's repr is no folder
        return text
    if isinstance(default, bool):
        return str(raw).lower() in ("1", "true", "yes")
    return type(default)(raw)
