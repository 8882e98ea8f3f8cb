"""The story model (Qt-free) and the ST-Bench story-script format.

A story is an ordered list of shots. Scenes in the benchmark format are kept as a per-shot
``scene_num`` so import/export round-trips, but the method only looks at ``cut``.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHOT_MODES = ("auto", "t2v", "m2v", "mi2v", "mm2v")


class StoryError(ValueError):
    """A story script or project file that cannot be used; the message names where and what."""


NO_CLIP_NOTE = "keyframes picked without CLIP"


def keyframe_note(backends: dict[str, str] | None) -> str:
    """What a take must say about how its keyframes were picked ("" when by the method's CLIP)."""
    similarity = (backends or {}).get("similarity", "")
    return "" if not similarity or similarity.startswith("clip") else f"{NO_CLIP_NOTE} ({similarity})"


@dataclass
class Take:
    """One generated clip of a shot, with the request it was made from."""

    id: str
    request: dict[str, Any]
    clip: str  # path relative to the project folder
    keyframes: list[str] = field(default_factory=list)
    last_frame: str = ""
    motion_frames: list[str] = field(default_factory=list)
    frames: int = 0
    created: str = ""
    status: str = "done"
    engine: str = ""
    backends: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request": self.request,
            "clip": self.clip,
            "keyframes": list(self.keyframes),
            "last_frame": self.last_frame,
            "motion_frames": list(self.motion_frames),
            "frames": self.frames,
            "created": self.created,
            "status": self.status,
            "engine": self.engine,
            "backends": dict(self.backends),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Take:
        return cls(
            id=str(data["id"]),
            request=dict(data.get("request", {})),
            clip=str(data["clip"]),
            keyframes=[str(p) for p in data.get("keyframes", [])],
            last_frame=str(data.get("last_frame", "")),
            motion_frames=[str(p) for p in data.get("motion_frames", [])],
            frames=int(data.get("frames", 0)),
            created=str(data.get("created", "")),
            status=str(data.get("status", "done")),
            engine=str(data.get("engine", "")),
            backends=dict(data.get("backends", {})),
        )


@dataclass
class Shot:
    """One shot on the timeline. ``None`` overrides mean "use the story default"."""

    prompt: str
    cut: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    scene_num: int = 1
    first_frame_prompt: str = ""
    mode: str = "auto"
    seed: int | None = None
    frames: int | None = None
    steps: int | None = None
    guidance: float | None = None
    duration_s: float | None = None
    notes: str = ""
    takes: list[Take] = field(default_factory=list)
    accepted_take: str | None = None

    def accepted(self) -> Take | None:
        for take in self.takes:
            if take.id == self.accepted_take:
                return take
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "cut": self.cut,
            "scene_num": self.scene_num,
            "first_frame_prompt": self.first_frame_prompt,
            "mode": self.mode,
            "seed": self.seed,
            "frames": self.frames,
            "steps": self.steps,
            "guidance": self.guidance,
            "duration_s": self.duration_s,
            "notes": self.notes,
            "takes": [t.to_dict() for t in self.takes],
            "accepted_take": self.accepted_take,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shot:
        mode = str(data.get("mode", "auto"))
        if mode not in SHOT_MODES:
            raise StoryError(f"shot {data.get('id')!r}: unknown mode {mode!r} (expected one of {SHOT_MODES})")
        return cls(
            id=str(data["id"]),
            prompt=str(data["prompt"]),
            cut=bool(data.get("cut", False)),
            scene_num=int(data.get("scene_num", 1)),
            first_frame_prompt=str(data.get("first_frame_prompt", "")),
            mode=mode,
            seed=_opt(int, data.get("seed")),
            frames=_opt(int, data.get("frames")),
            steps=_opt(int, data.get("steps")),
            guidance=_opt(float, data.get("guidance")),
            duration_s=_opt(float, data.get("duration_s")),
            notes=str(data.get("notes", "")),
            takes=[Take.from_dict(t) for t in data.get("takes", [])],
            accepted_take=data.get("accepted_take"),
        )


def _opt(kind, value):
    return None if value is None else kind(value)


@dataclass
class Story:
    name: str
    overview: str = ""
    shots: list[Shot] = field(default_factory=list)
    # Memory keyframe keys the user pinned (always in memory) or excluded (never used).
    memory_pins: list[str] = field(default_factory=list)
    memory_exclusions: list[str] = field(default_factory=list)
    # Unknown keys of the script (story level and per scene) so export keeps every field.
    extra: dict[str, Any] = field(default_factory=dict)
    scene_extra: dict[int, dict[str, Any]] = field(default_factory=dict)

    def shot_index(self, shot_id: str) -> int:
        for i, shot in enumerate(self.shots):
            if shot.id == shot_id:
                return i
        raise KeyError(shot_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "overview": self.overview,
            "shots": [s.to_dict() for s in self.shots],
            "memory_pins": list(self.memory_pins),
            "memory_exclusions": list(self.memory_exclusions),
            "extra": self.extra,
            "scene_extra": {str(k): v for k, v in self.scene_extra.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Story:
        return cls(
            name=str(data["name"]),
            overview=str(data.get("overview", "")),
            shots=[Shot.from_dict(s) for s in data.get("shots", [])],
            memory_pins=[str(k) for k in data.get("memory_pins", [])],
            memory_exclusions=[str(k) for k in data.get("memory_exclusions", [])],
            extra=dict(data.get("extra", {})),
            scene_extra={int(k): dict(v) for k, v in data.get("scene_extra", {}).items()},
        )


# ---------------------------------------------------------------- benchmark format


def _parse_cut(value: Any, where: str) -> bool:
    # Benchmark files use JSON booleans; the authors' prompt asks the LLM for "True"/"False".
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise StoryError(f"{where}, field 'cut': expected true/false or \"True\"/\"False\", got {value!r}")


def story_from_script(data: Any, source: str = "<story>") -> Story:
    """Build a Story from the parsed benchmark JSON, naming file/scene/shot/field on any error."""
    if not isinstance(data, dict):
        raise StoryError(f"{source}: expected a JSON object with 'story_name' and 'scenes'")
    for key in ("story_name", "scenes"):
        if key not in data:
            raise StoryError(f"{source}: missing field '{key}'")
    if not isinstance(data["scenes"], list) or not data["scenes"]:
        raise StoryError(f"{source}, field 'scenes': expected a non-empty list of scenes")
    story = Story(
        name=str(data["story_name"]),
        overview=str(data.get("story_overview", "")),
        extra={k: v for k, v in data.items() if k not in ("story_name", "story_overview", "scenes")},
    )
    for s_idx, scene in enumerate(data["scenes"]):
        where_scene = f"{source}: scene {s_idx + 1}"
        if not isinstance(scene, dict):
            raise StoryError(f"{where_scene}: expected an object")
        if "scene_num" not in scene:
            raise StoryError(f"{where_scene}: missing field 'scene_num'")
        try:
            scene_num = int(scene["scene_num"])
        except (TypeError, ValueError):
            raise StoryError(f"{where_scene}, field 'scene_num': expected an integer") from None
        where_scene = f"{source}: scene {scene_num}"
        prompts = scene.get("video_prompts")
        if not isinstance(prompts, list) or not prompts:
            raise StoryError(f"{where_scene}, field 'video_prompts': expected a non-empty list of strings")
        cuts = scene.get("cut")
        if not isinstance(cuts, list):
            raise StoryError(f"{where_scene}, field 'cut': expected a list with one entry per shot")
        if len(cuts) != len(prompts):
            raise StoryError(
                f"{where_scene}, field 'cut': {len(cuts)} entries for {len(prompts)} video_prompts"
            )
        ffp = scene.get("first_frame_prompt", [])
        if not isinstance(ffp, list):
            raise StoryError(f"{where_scene}, field 'first_frame_prompt': expected a list of strings")
        extra = {
            k: v
            for k, v in scene.items()
            if k not in ("scene_num", "video_prompts", "first_frame_prompt", "cut")
        }
        if extra:
            story.scene_extra[scene_num] = extra
        for p_idx, prompt in enumerate(prompts):
            where_shot = f"{where_scene}, shot {p_idx + 1}"
            if not isinstance(prompt, str) or not prompt.strip():
                raise StoryError(f"{where_shot}, field 'video_prompts': expected a non-empty string")
            cut = _parse_cut(cuts[p_idx], where_shot)
            first = ffp[p_idx] if p_idx < len(ffp) else ""
            if not isinstance(first, str):
                raise StoryError(f"{where_shot}, field 'first_frame_prompt': expected a string")
            story.shots.append(
                Shot(
                    id=f"shot-{len(story.shots) + 1:03d}",
                    prompt=prompt,
                    cut=cut,
                    scene_num=scene_num,
                    first_frame_prompt=first,
                )
            )
    # The first shot of a story is always a cut (nothing precedes it to continue from).
    story.shots[0].cut = True
    return story


def story_to_script(story: Story) -> dict[str, Any]:
    scenes: list[dict[str, Any]] = []
    for shot in story.shots:
        if not scenes or scenes[-1]["scene_num"] != shot.scene_num:
            scenes.append(
                {"scene_num": shot.scene_num, "video_prompts": [], "first_frame_prompt": [], "cut": []}
            )
            scenes[-1].update(story.scene_extra.get(shot.scene_num, {}))
        scene = scenes[-1]
        scene["video_prompts"].append(shot.prompt)
        scene["first_frame_prompt"].append(shot.first_frame_prompt)
        scene["cut"].append(bool(shot.cut or len(scene["cut"]) == 0))
    return {
        "story_name": story.name,
        "story_overview": story.overview,
        "scenes": scenes,
        **story.extra,
    }


def read_json_file(path: Path, what: str, error: type[StoryError] = StoryError) -> Any:
    """Parse a JSON file, turning every failure into ``error`` naming the file and the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what} ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def load_story(path: str | os.PathLike[str]) -> Story:
    path = Path(path)
    return story_from_script(read_json_file(path, "story file"), str(path))


def save_story(story: Story, path: str | os.PathLike[str]) -> None:
    from storymem_engine.atomic import atomic_write_text

    atomic_write_text(Path(path), json.dumps(story_to_script(story), indent=2, ensure_ascii=False) + "\n")
