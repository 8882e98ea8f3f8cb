"""How a project renders: size, frames, steps, guidance, seeds, memory, keyframes and offload.

They belong to the project (``project.json`` "settings"), so a project rendered by the CLI at 128x64 and
4 steps is regenerated in the app at 128x64 and 4 steps, and the other way round. The app's preferences
only seed the settings of a new project. A shot's own frames/steps/guidance/seed still win over these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from storymem_engine.models import LORA_FOLDERS, OFFLOAD_CHOICES
from storymem_engine.request import PROFILES, SEED_RULES
from storymem_engine.story import (
    MAX_FRAMES,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    StoryError,
    _bool,
    _int,
    _opt_float,
    _text,
)

MAX_MEMORY = 64
MAX_KEYFRAMES_PER_SHOT = 16


@dataclass(frozen=True)
class RenderSettings:
    width: int = 832
    height: int = 480
    frames: int = 81
    steps: int = 40
    guidance: float = 3.5
    seed: int = 0
    seed_rule: str = "scene"  # shot seed = seed + index within its scene (official) or + index in the story
    memory_size: int = 10  # memory images a shot is conditioned on at most (the LoRA was trained with 10)
    memory_sink: int = 3  # the story's first keyframes every later shot keeps
    keyframes_per_shot: int = 3
    keyframe_threshold: float = 0.9
    keyframe_memory_dedup: float = 0.9
    # "auto": the engine picks the fastest preset that fits the GPU's free memory when it starts (and says why)
    offload: str = "auto"
    text_encoder_on_cpu: bool = False
    vae_tiling: bool = False
    # "final": the method as published; "draft": the 4-step distilled LoRAs (request.PROFILES). A shot's own
    # profile wins over this.
    profile: str = "final"
    # Which StoryMem LoRA the story runs with, and so how a shot without a cut continues the one before it: from its
    # last frame ("mi2v", the M2V + MI2V LoRA) or its last 5 frames ("mm2v", the M2V + MM2V LoRA). One LoRA per
    # story, as the authors' runs: a shot set to the other continuation is refused by name (director.mode_for).
    continuation: str = "mi2v"

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def problems(self) -> list[str]:
        """Each value the engine would refuse, in words (empty when all is well)."""
        found = []
        for side, value in (("width", self.width), ("height", self.height)):
            if value % 16 or not 16 <= value <= MAX_SIDE:
                found.append(f"{side} {value} must be a multiple of 16 between 16 and {MAX_SIDE}")
        if (self.frames - 1) % 4 or not 5 <= self.frames <= MAX_FRAMES:
            found.append(f"frames {self.frames} must be 4n+1 between 5 and {MAX_FRAMES} (e.g. 17, 49, 81)")
        if not 1 <= self.steps <= MAX_STEPS:
            found.append(f"steps {self.steps} must be between 1 and {MAX_STEPS}")
        if not 0 <= self.guidance <= MAX_GUIDANCE:
            found.append(f"guidance {self.guidance:g} must be between 0 and {MAX_GUIDANCE:g}")
        if not 0 <= self.seed <= MAX_SEED:
            found.append(f"seed {self.seed} must be between 0 and {MAX_SEED}")
        if not 1 <= self.memory_size <= MAX_MEMORY:
            found.append(f"memory size {self.memory_size} must be between 1 and {MAX_MEMORY}")
        if not 0 <= self.memory_sink <= self.memory_size:
            found.append(f"memory sink {self.memory_sink} must be between 0 and the memory size {self.memory_size}")
        return found

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "settings", defaults: RenderSettings | None = None) -> RenderSettings:
        """Strict: every known field is checked and named when wrong; missing ones take ``defaults``; unknown
        keys are left out (a newer app's extra settings do not stop this one from opening the project)."""
        if not isinstance(data, dict):
            raise StoryError(f"{where}: expected an object, got {type(data).__name__}")
        base = defaults or cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                values[f.name] = _read(f.name, data[f.name], f"{where}, {f.name}")
        settings = replace(base, **values)
        bad = settings.problems()
        if bad:
            raise StoryError(f"{where}: {bad[0]}")
        return settings

    def director_fields(self) -> dict[str, Any]:
        """The storymem_engine.director.DirectorSettings fields these settings fill (JSON-ready)."""
        return dict(
            seed=self.seed, width=self.width, height=self.height, frames=self.frames, steps=self.steps,
            guidance=self.guidance, max_memory=self.memory_size, fix=self.memory_sink, seed_rule=self.seed_rule,
            keyframes=dict(threshold_start=self.keyframe_threshold, max_keyframes=self.keyframes_per_shot,
                           memory_dedup=self.keyframe_memory_dedup), profile=self.profile,
        )

    def drafted(self) -> RenderSettings:
        """What the tiny engine runs: size, frames and steps left at the production defaults become draft
        settings (storymem_engine.tiny.draft_settings); values the user chose are kept."""
        from storymem_engine.tiny import draft_settings

        p = RenderSettings()
        width, height, frames, steps = draft_settings(self.width, self.height, self.frames, self.steps,
                                                      (p.width, p.height, p.frames, p.steps))
        return replace(self, width=width, height=height, frames=frames, steps=steps)


def _read(name: str, value: Any, where: str) -> Any:
    if name in ("width", "height"):
        return _int(value, where, 16, MAX_SIDE)
    if name == "frames":
        return _int(value, where, 5, MAX_FRAMES)
    if name == "steps":
        return _int(value, where, 1, MAX_STEPS)
    if name == "guidance":
        return _opt_float(value, where, 0.0, MAX_GUIDANCE) if value is not None else _missing(where)
    if name == "seed":
        return _int(value, where, 0, MAX_SEED)
    if name in ("memory_size", "memory_sink"):
        return _int(value, where, 1 if name == "memory_size" else 0, MAX_MEMORY)
    if name == "keyframes_per_shot":
        return _int(value, where, 1, MAX_KEYFRAMES_PER_SHOT)
    if name in ("keyframe_threshold", "keyframe_memory_dedup"):
        return _opt_float(value, where, 0.5, 1.0) if value is not None else _missing(where)
    if name in ("text_encoder_on_cpu", "vae_tiling"):
        return _bool(value, where)
    choices = {"seed_rule": SEED_RULES, "offload": OFFLOAD_CHOICES, "profile": PROFILES,
               "continuation": tuple(LORA_FOLDERS)}[name]
    text = _text(value, where)
    if text not in choices:
        raise StoryError(f"{where}: {text[:40]!r} is not one of {', '.join(choices)}")
    return text


def _missing(where: str):
    raise StoryError(f"{where}: expected a number, got null")
