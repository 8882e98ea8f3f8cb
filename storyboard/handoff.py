"""What every hand-off export shares (no Qt, no numpy): the shots in story order with their accepted take,
its clip on disk, the frames each fills on the cut and the facts editors and crews read about it.

The timeline exports (OTIO, FCP 7/X XML, EDL) and the PDF storyboard all start from ``plan_handoff``, so a
shot is numbered, timed and described the same way in each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storymem_engine.project import Project
from storymem_engine.request import profile_note
from storymem_engine.shot_timing import FPS, shot_frames
from storymem_engine.story import Shot, Take


class HandoffError(Exception):
    """The export cannot be made; the message names the shot and the reason."""


@dataclass
class HandoffShot:
    number: int  # 1-based position in the story
    shot: Shot
    take: Take | None
    clip: Path | None  # the accepted take's clip (absolute, checked to exist); None: no take
    frames: int  # frames on the cut at FPS
    start: int  # first frame on the cut (record in)
    opens_scene: bool  # a scene marker goes here: the first shot or a new scene number (a cut inside: its own)
    profile: str = "final"  # the quality profile (request.PROFILES) of the take, else the one it would get
    source_in: int = 0  # the clip's first frame on the cut (the take's in point)
    available: int = 0  # frames in the clip (more than ``frames`` when the take is trimmed); 0: ``frames``

    @property
    def name(self) -> str:
        """The clip name editors see: "Shot 3 - Take 2" (the take's number, as the takes list shows it)."""
        if self.take is None:
            return f"Shot {self.number} - no take"
        return f"Shot {self.number} - Take {self.take.number}"

    @property
    def seconds(self) -> float:
        return self.frames / FPS


def plan_handoff(project: Project, default_frames: int) -> list[HandoffShot]:
    """Every shot in story order; a take whose clip path leaves the project is a HandoffError naming the shot.
    Whether each clip is there and whole is the timeline's check, shot by shot; the PDF draws a blank instead."""
    plan: list[HandoffShot] = []
    project_profile = project.settings.profile if project.settings is not None else "final"
    start = 0
    previous_scene: int | None = None
    for number, shot in enumerate(project.story.shots, start=1):
        take = shot.accepted()
        clip = None
        if take is not None:
            try:
                clip = project.resolve(take.clip)
            except ValueError as exc:
                raise HandoffError(f"shot {number}: {exc}") from None
        frames = shot_frames(shot, default_frames)
        if take is not None and take.frames <= 0 and clip is not None and clip.is_file():
            frames = _probe_frames(clip, number)  # an old take that did not record its length
        source_in = take.cut_range()[0] if take is not None else 0
        available = take.frames if take is not None and take.frames > 0 else frames
        opens = number == 1 or shot.scene_num != previous_scene
        plan.append(HandoffShot(number, shot, take, clip, frames, start, opens,
                                profile_of(take, shot, project_profile), source_in, available))
        previous_scene = shot.scene_num
        start += frames
    if not plan:
        raise HandoffError("the timeline has no shots")
    return plan


def _probe_frames(clip: Path, number: int) -> int:
    from storyboard.frames import clip_geometry
    from storymem_engine.take_files import why_unreadable

    try:
        return max(clip_geometry(clip)[2], 1)
    except Exception as exc:  # noqa: BLE001 - any decode error names the shot
        raise HandoffError(f"shot {number}: cannot read {clip.name}: {why_unreadable(exc)}") from None


def seed_of(item: HandoffShot) -> int | None:
    """The seed the accepted take was made with, else the shot's own (None: the story default)."""
    if item.take is not None and isinstance(item.take.request.get("seed"), int):
        return item.take.request["seed"]
    return item.shot.seed


def profile_of(take: Take | None, shot: Shot, project_profile: str) -> str:
    """The quality profile: the accepted take's (a take made before profiles is "final"), else the one the shot
    would be generated with (its own, else the project's)."""
    if take is not None:
        return str(take.request.get("profile", "final"))
    return shot.profile or project_profile


def generation_of(take: Take | None) -> dict[str, Any]:
    """How the take was generated: engine, mode, LoRA, size, frames, steps, guidance (what a re-render needs)."""
    if take is None:
        return {}
    request = take.request
    details: dict[str, Any] = {"engine": take.engine or request.get("engine", "")}
    for key in ("mode", "lora_variant", "width", "height", "frames", "steps", "guidance", "offload"):
        if key in request:
            details[key] = request[key]
    return details


def profile_text(profile: str, generation: dict[str, Any]) -> str:
    """"draft (distilled, memory fidelity unverified): tiny m2v 64x48 9 frames 4 steps cfg 1.0" and the like."""
    parts = [str(generation.get("engine", "")), str(generation.get("mode", ""))]
    if "width" in generation and "height" in generation:
        parts.append(f"{generation['width']}x{generation['height']}")
    for key, unit in (("frames", "frames"), ("steps", "steps"), ("guidance", "cfg")):
        if key in generation:
            parts.append(f"{generation[key]} {unit}")
    details = " ".join(p for p in parts if p)
    label = profile_note({"profile": profile}) or profile
    return f"{label}: {details}" if details else label


def metadata_of(item: HandoffShot) -> dict[str, Any]:
    """The shot as JSON-safe metadata (OTIO clip metadata; notes in the XML and EDL)."""
    shot, take = item.shot, item.take
    request = take.request if take is not None else {}
    return {
        "shot_number": item.number,
        "shot_id": shot.id,
        "scene": shot.scene_num,
        "cut": shot.cut,
        "prompt": shot.prompt,
        "first_frame_prompt": shot.first_frame_prompt,
        "seed": seed_of(item),
        "take": take.number if take is not None else 0,  # "Take 2", as the clip's name and the takes list say
        "take_id": take.id if take is not None else "",
        "profile": item.profile,
        "generation": generation_of(take),
        "memory_keyframes": [str(p) for p in request.get("memory") or []],
        "memory_keys": [str(k) for k in request.get("memory_keys") or []],
        "keyframes": list(take.keyframes) if take is not None else [],
        "shot_size": shot.shot_size,
        "camera_move": shot.camera_move,
        "frames": item.frames,
        "duration_s": round(item.seconds, 4),
        "notes": shot.notes,
    }


def one_line(text: str) -> str:
    """Text for a single-line field (EDL comments, XML notes): line breaks and tabs become spaces, and
    characters XML 1.0 cannot hold (NUL and other controls, U+FFFE/U+FFFF) are dropped."""
    return " ".join("".join(ch for ch in text if _xml_char(ch)).split())


def _xml_char(ch: str) -> bool:
    code = ord(ch)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def note_lines(item: HandoffShot) -> list[tuple[str, str]]:
    """(label, one-line value) pairs for formats that carry text notes rather than structured metadata."""
    meta = metadata_of(item)
    lines = [("PROMPT", one_line(meta["prompt"])), ("SCENE", str(meta["scene"])),
             ("SEED", "" if meta["seed"] is None else str(meta["seed"])), ("TAKE", str(meta["take"] or "")),
             ("PROFILE", profile_text(meta["profile"], meta["generation"])),
             ("MEMORY", " ".join(meta["memory_keys"] or meta["memory_keyframes"])),
             ("SHOT SIZE", meta["shot_size"]), ("CAMERA", meta["camera_move"]),
             ("DURATION", f"{meta['duration_s']:.2f}s ({meta['frames']} frames at {FPS} fps)"),
             ("NOTES", one_line(meta["notes"]))]
    return [(label, value) for label, value in lines if value]
