"""One generation request: everything a shot's generation needs, serializable.

The same record is stored in the take it produced, so any take can be reproduced or explained.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

# Wan's default negative prompt: the reference passes it, diffusers does not fill it in.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)

MODES = ("t2v", "m2v", "mi2v", "mm2v")
# Reference sampling defaults per mode: (flow shift, boundary ratio).
MODE_SCHEDULE = {"t2v": (12.0, 0.875), "m2v": (4.0, 0.9), "mi2v": (4.0, 0.9), "mm2v": (4.0, 0.9)}
# Frames a mode drops from its output: MI2V repeats the previous last frame, MM2V the 5 motion frames.
DROPPED_FRAMES = {"t2v": 0, "m2v": 0, "mi2v": 1, "mm2v": 5}

# Quality profiles. "final": the method as published (40 steps, CFG 3.5, UniPC). "draft": the lightx2v 4-step
# distilled LoRAs stacked on the StoryMem LoRA, CFG off, their Euler schedule at their shift (lightx2v's
# Wan2.2 MoE distill configs: denoising_step_list [1000, 750, 500, 250], sample_shift 5, guidance 1).
PROFILES = ("final", "draft")
DRAFT_STEPS = 4
DRAFT_SHIFT = 5.0
DRAFT_GUIDANCE = 1.0
# What every draft take says, on the card, in the take details and on export: the memory LoRA was trained
# without the distilled LoRA, and whether it keeps its effect under it is not published.
DRAFT_NOTE = "draft (distilled, memory fidelity unverified)"



def profile_note(request: dict[str, Any] | None) -> str:
    """What a take must say about its profile ("" for the method's final one)."""
    return DRAFT_NOTE if (request or {}).get("profile") == "draft" else ""


def is_draft(take: Any) -> bool:
    """Whether a take (a story.Take, or None) was made at the Draft profile: labelled as one in every film."""
    return take is not None and take.request.get("profile") == "draft"


# How a shot's default seed is derived from the story seed: "scene" = seed + the shot's index within
# its scene (the reference: renders compare with official ones), "story" = seed + its index in the story.
SEED_RULES = ("scene", "story")

# Fields that do not change the pixels: two requests differing only here give the same take.
_NOT_IN_FINGERPRINT = {"offload", "shot_id", "seed_rule"}


@dataclass
class GenerationRequest:
    shot_id: str
    prompt: str
    mode: str
    seed: int
    width: int = 832
    height: int = 480
    num_frames: int = 81
    steps: int = 40
    guidance: float = 3.5
    shift: float = 4.0
    boundary_ratio: float = 0.9
    negative_prompt: str = WAN_NEGATIVE_PROMPT
    memory: list[str] = field(default_factory=list)  # project-relative keyframe image paths
    memory_keys: list[str] = field(default_factory=list)
    first_frame: str | None = None  # MI2V: previous shot's last frame
    motion_frames: list[str] = field(default_factory=list)  # MM2V: previous shot's last 5 frames
    rope_stride: int = 1
    engine: str = "wan"
    lora_variant: str = "mi2v"
    offload: str = "model_offload"
    # how `seed` was derived: SEED_RULES for a shot's first take, "shot" when the shot sets its own or is locked,
    # "fresh" for a later take drawn at random (so regenerating varies)
    seed_rule: str = "scene"
    vae_tiling: bool = False  # tiled VAE encode/decode (low-VRAM presets); the reference encodes whole frames
    profile: str = "final"  # PROFILES; a take made before profiles existed was "final"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown shot mode {self.mode!r} (expected one of {', '.join(MODES)})")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown quality profile {self.profile!r} (expected one of {', '.join(PROFILES)})")

    @property
    def output_frames(self) -> int:
        return self.num_frames - DROPPED_FRAMES[self.mode]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def fingerprint(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_dict().items() if k not in _NOT_IN_FINGERPRINT}


def unrecorded_fields(data: dict[str, Any]) -> list[str]:
    """The fields a stored request must hold to be read back that it lacks (a hand-made or damaged take)."""
    return [f.name for f in fields(GenerationRequest)
            if f.default is MISSING and f.default_factory is MISSING and f.name not in data]


def check_frames(num_frames: int) -> int:
    if num_frames < 5 or (num_frames - 1) % 4:
        raise ValueError(f"frames must be 4n+1 and at least 5 (e.g. 17, 49, 81), got {num_frames}")
    return num_frames


def size_for_aspect(width: int, height: int, image_height: int, image_width: int) -> tuple[int, int]:
    """The shot size for an image's aspect: the area of width x height, as the reference computes it.

    ``lat_h = round(sqrt(area * h/w)) // 8 // 2 * 2`` (VAE stride 8, patch 2), likewise the width: each
    side rounded, then floored to a multiple of 16. At 832x480 with a 480x832 image: 832x480.
    """
    import math

    area = width * height
    ratio = image_height / image_width
    lat_h = round(math.sqrt(area * ratio)) // 8 // 2 * 2
    lat_w = round(math.sqrt(area / ratio)) // 8 // 2 * 2
    return max(16, lat_w * 8), max(16, lat_h * 8)
