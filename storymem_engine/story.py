"""The story model (Qt-free) and the ST-Bench story-script format.

A story is an ordered list of shots. Scenes in the benchmark format are kept as a per-shot
``scene_num`` so import/export round-trips, but the method only looks at ``cut``.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from storymem_engine.cast import ATTACH_MODES, MAX_CAST, MAX_IMAGES_PER_MEMBER, CastImage, CastMember
from storymem_engine.request import MODES, PROFILES, GenerationRequest
from storymem_engine.words import counted

SHOT_MODES = ("auto", "t2v", "m2v", "mi2v", "mm2v")
# Shot and take ids name folders (takes/<shot>/<take>): a safe character set, so no id can leave the project.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAX_SCENE_NUM = 1_000_000
MAX_SEED = 2**63 - 1
MAX_FRAMES = 1001
MAX_SIDE = 2048  # pixels per side; Wan2.2 A14B is trained at 480p/720p, 2048 is already far past it
MAX_STEPS = 1000
MAX_GUIDANCE = 100.0
MAX_DURATION_S = 3600.0
MAX_TAKE_NUMBER = 1_000_000
MIN_GAIN_DB, MAX_GAIN_DB = -60.0, 20.0  # a soundtrack's volume change: from near silence to 10x louder
# Crew vocabulary for the shot list, the PDF storyboard and the timeline notes; "" means not set.
SHOT_SIZES = ("", "extreme wide", "wide", "full", "medium wide", "medium", "medium close-up", "close-up",
              "extreme close-up", "insert", "over the shoulder", "point of view", "aerial")
CAMERA_MOVES = ("", "static", "pan left", "pan right", "tilt up", "tilt down", "dolly in", "dolly out",
                "tracking", "crane up", "crane down", "handheld", "zoom in", "zoom out", "orbit")


class StoryError(ValueError):
    """A story script or project file that cannot be used; the message names where and what."""


NO_CLIP_NOTE = "keyframes picked without CLIP"


def keyframe_note(backends: dict[str, str] | None) -> str:
    """What a take must say about how its keyframes were picked ("" when by the method's CLIP)."""
    similarity = (backends or {}).get("similarity", "")
    return "" if not similarity or similarity.startswith("clip") else f"{NO_CLIP_NOTE} ({similarity})"


def unsaveable_path(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, what) of the first value that JSON-in-UTF-8 cannot hold (a lone surrogate, NaN), else None."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return where or "text", f"a lone surrogate {item[exc.start:exc.end]!r}"
        elif isinstance(item, float) and not math.isfinite(item):
            return where or "number", f"the number {item}"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and unsaveable_path(key) is not None:
                    return f"{where}.{key!r}" if where else repr(key), "a key with a lone surrogate"
                stack.append((f"{where}.{key}" if where else str(key), sub))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", sub) for i, sub in enumerate(item))
    return None


def check_saveable(value: Any, where: str) -> None:
    """Refuse at import what could not be written back (so a save can never fail on it later)."""
    found = unsaveable_path(value)
    if found is not None:
        path, what = found
        raise StoryError(f"{where}, {path}: contains {what}, which cannot be saved; fix it in the file")


def _text(value: Any, where: str, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise StoryError(f"{where}: expected text, got {type(value).__name__}")
    check_saveable(value, where)
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoryError(f"{where}: expected a whole number, got {value!r}"[:200])
    if not low <= value <= high:
        raise StoryError(f"{where}: {value} is outside {low}..{high}"[:200])
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise StoryError(f"{where}: expected true or false, got {value!r}"[:200])
    return value


def _opt_int(value: Any, where: str, low: int, high: int) -> int | None:
    return None if value is None else _int(value, where, low, high)


def _repeated(ids: list[str]) -> tuple[int, int, str] | None:
    """(first number, second number, id) of the first id two items share, numbered from 1 as the UI shows them."""
    seen: dict[str, int] = {}
    for number, item in enumerate(ids, 1):
        if item in seen:
            return seen[item], number, item
        seen[item] = number
    return None


def _opt_float(value: Any, where: str, low: float, high: float) -> float | None:
    return None if value is None else _float(value, where, low, high)


def _float(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StoryError(f"{where}: expected a number, got {value!r}"[:200])
    if not (math.isfinite(value) and low <= value <= high):
        raise StoryError(f"{where}: {value} is outside {low:g}..{high:g}"[:200])
    return float(value)


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or value not in choices:
        known = ", ".join(repr(c) for c in choices if c)
        raise StoryError(f"{where}: {value!r} is not one of {known} (or empty)"[:400])
    return value


def _member(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise StoryError(f"{where}: {value!r} is not one of {', '.join(repr(c) for c in choices)}"[:400])
    return value


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not SAFE_ID.fullmatch(value):
        raise StoryError(f"{where}: id {value!r} must be 1-64 letters, digits, '-' or '_'"[:200])
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise StoryError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _dict(value: Any, where: str) -> dict:
    """An object whose fields the caller reads one by one (each checked by its own reader)."""
    if not isinstance(value, dict):
        raise StoryError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _json_dict(value: Any, where: str) -> dict:
    """Free-form JSON kept as it is (a take's request, unknown script fields): checked whole, once."""
    check_saveable(_dict(value, where), where)
    return value


# A take's request is read field by field as GenerationRequest declares it, so a hand-edited value of the wrong
# type is refused here, by name, instead of failing later in a stale check or a locked seed. Fields it lacks keep
# their defaults (takes from older versions); fields it does not know are kept (takes from newer ones).
_REQUEST_KINDS: dict[str, Any] = {
    "str": _text,
    "int": lambda v, w: _int(v, w, 0, 2**64 - 1),  # a seed is story seed + index: past MAX_SEED is possible
    "float": lambda v, w: _float(v, w, 0.0, 1e9),
    "bool": _bool,
    "list[str]": lambda v, w: [_text(item, w) for item in _list(v, w)],
    "str | None": lambda v, w: None if v is None else _text(v, w),
}
_REQUEST_FIELDS = {f.name: _REQUEST_KINDS[str(f.type)] for f in fields(GenerationRequest)}
_REQUEST_FIELDS |= {"mode": lambda v, w: _member(v, w, MODES), "profile": lambda v, w: _member(v, w, PROFILES)}


def _request(value: Any, where: str) -> dict:
    data = _json_dict(value, where)
    for name, check in _REQUEST_FIELDS.items():
        if name in data:
            check(data[name], f"{where}, {name}")
    return data


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
    # The take's in and out points on the cut (an editor's trim): frames [trim_in, trim_out) of the clip, trim_out
    # 0 meaning its last frame. Only the film and its hand-offs follow them: the memory and a continuing shot's
    # first frames come from the whole take, as it was generated (the method's memory is what was made).
    trim_in: int = 0
    trim_out: int = 0
    # Why the take added fewer keyframes to the memory than it could, or none ("" when nothing to say): a shot
    # that adds none is otherwise just absent from every later shot's memory, without a word.
    keyframes_note: str = ""
    # "Take 3" wherever the take is named: given when it joins its shot (Shot.add_take) and never changed, so
    # deleting take 1 does not turn take 2 into take 1 (nor clash with clips handed off as "Take 2"). 0: not yet.
    number: int = 0

    def cut_range(self) -> tuple[int, int]:
        """(first frame, frame after the last) of the clip on the cut; (0, 0) for a take that did not record its
        length, whose clip then plays whole."""
        if self.frames <= 0:
            return 0, 0
        stop = min(self.trim_out or self.frames, self.frames)
        return min(self.trim_in, stop - 1), stop

    @property
    def trimmed(self) -> bool:
        return self.cut_range() not in ((0, self.frames), (0, 0))

    @property
    def trim_range(self) -> tuple[int, int]:
        """cut_range() of a trimmed take, (0, 0) for one that plays whole: how the players and a render's film
        are told which frames to play."""
        return self.cut_range() if self.trimmed else (0, 0)

    def files(self) -> list[str]:
        """The project-relative files the take names: its clip, last frame, keyframes and motion frames (the next
        shot continues from the last two), those it recorded."""
        return [rel for rel in [self.clip, self.last_frame, *self.keyframes, *self.motion_frames] if rel]

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
            "trim_in": self.trim_in,
            "trim_out": self.trim_out,
            "keyframes_note": self.keyframes_note,
            "number": self.number,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "take") -> Take:
        data = _dict(data, where)
        take_id = _id(data.get("id"), where)
        where = f"{where} {take_id}"  # "shot 2, take ab12": the shot is what the user finds
        if "clip" not in data:
            raise StoryError(f"{where}: missing field 'clip'")
        frames = _int(data.get("frames", 0), f"{where}, frames", 0, MAX_FRAMES)
        trim_in = _int(data.get("trim_in", 0), f"{where}, trim_in", 0, max(frames - 1, 0))
        trim_out = _int(data.get("trim_out", 0), f"{where}, trim_out", 0, frames)
        if trim_out and trim_out <= trim_in:
            raise StoryError(f"{where}: its out point (frame {trim_out}) comes before its in point (frame "
                             f"{trim_in + 1})")
        return cls(
            id=take_id,
            request=_request(data.get("request", {}), f"{where}, request"),
            clip=_text(data["clip"], f"{where}, clip"),
            keyframes=[_text(p, f"{where}, keyframes") for p in _list(data.get("keyframes", []), where)],
            last_frame=_text(data.get("last_frame", ""), f"{where}, last_frame"),
            motion_frames=[_text(p, f"{where}, motion_frames") for p in _list(data.get("motion_frames", []), where)],
            frames=frames,
            created=_text(data.get("created", ""), f"{where}, created"),
            status=_text(data.get("status", "done"), f"{where}, status"),
            engine=_text(data.get("engine", ""), f"{where}, engine"),
            backends={_text(k, where): _text(v, f"{where}, backends")
                      for k, v in _dict(data.get("backends", {}), f"{where}, backends").items()},
            trim_in=trim_in,
            trim_out=trim_out,
            keyframes_note=_text(data.get("keyframes_note", ""), f"{where}, keyframes_note"),
            number=_int(data.get("number", 0), f"{where}, number", 0, MAX_TAKE_NUMBER),  # 0: saved before numbers
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
    # Locked: every new take reuses the shot's seed (its own, else the accepted take's). Unlocked: a second
    # take draws a fresh seed, so regenerating gives a different clip.
    seed_locked: bool = False
    shot_size: str = ""  # one of SHOT_SIZES
    camera_move: str = ""  # one of CAMERA_MOVES
    profile: str = ""  # a quality profile (request.PROFILES) for this shot only; "" = the project's
    # The highest take number given in this shot: a deleted take's number is not given again (its Undo, or a
    # clip handed off under it, would then mean two takes).
    last_take_number: int = 0

    def add_take(self, take: Take) -> Take:
        """Append the take, numbered after every take this shot has had; a number it already has is kept unless
        another take here holds it (a take made from a copy of the shot, a file with repeated numbers)."""
        held = {t.number for t in self.takes}
        if take.number <= 0 or take.number in held:
            take.number = min(max(self.last_take_number, *held, 0) + 1, MAX_TAKE_NUMBER)
        self.last_take_number = max(self.last_take_number, take.number)
        self.takes.append(take)
        return take

    def take(self, take_id: str | None) -> Take | None:
        """The shot's take with that id, None when it has none."""
        return next((take for take in self.takes if take.id == take_id), None)

    def accepted(self) -> Take | None:
        return self.take(self.accepted_take)

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
            "seed_locked": self.seed_locked,
            "shot_size": self.shot_size,
            "camera_move": self.camera_move,
            "profile": self.profile,
            "last_take_number": self.last_take_number,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "shot") -> Shot:
        data = _dict(data, where)
        shot_id = _id(data.get("id"), where)
        # In a story the user finds a shot by its number on the timeline; the id tells two equal prompts apart.
        where = f"{where} ({shot_id})" if where != "shot" else f"shot {shot_id}"
        mode = _text(data.get("mode", "auto"), f"{where}, mode")
        if mode not in SHOT_MODES:
            raise StoryError(f"{where}: unknown mode {mode[:40]!r} (expected one of {', '.join(SHOT_MODES)})")
        cut = data.get("cut", False)
        if not isinstance(cut, bool):
            raise StoryError(f"{where}, cut: expected true or false, got {cut!r}"[:200])
        if "prompt" not in data:
            raise StoryError(f"{where}: missing field 'prompt'")
        takes = [Take.from_dict(t, f"{where}, take") for t in _list(data.get("takes", []), f"{where}, takes")]
        repeat = _repeated([t.id for t in takes])
        if repeat is not None:
            raise StoryError(f"{where}: takes {repeat[0]} and {repeat[1]} have the same id {repeat[2]!r} (each take "
                             "needs its own)")
        accepted = data.get("accepted_take")
        if accepted is not None and accepted not in {t.id for t in takes}:
            raise StoryError(f"{where}: accepted_take {accepted!r} is not one of its takes"[:200])
        shot = cls(
            id=shot_id,
            prompt=_text(data["prompt"], f"{where}, prompt"),
            cut=cut,
            scene_num=_int(data.get("scene_num", 1), f"{where}, scene_num", 1, MAX_SCENE_NUM),  # numbered from 1
            first_frame_prompt=_text(data.get("first_frame_prompt", ""), f"{where}, first_frame_prompt"),
            mode=mode,
            seed=_opt_int(data.get("seed"), f"{where}, seed", 0, MAX_SEED),
            # Not refused at 4n+1 here: a project saved that way still opens, and generating that shot says why
            # it cannot (the engine's check), instead of the whole project staying shut.
            frames=_opt_int(data.get("frames"), f"{where}, frames", 1, MAX_FRAMES),
            steps=_opt_int(data.get("steps"), f"{where}, steps", 1, MAX_STEPS),
            guidance=_opt_float(data.get("guidance"), f"{where}, guidance", 0.0, MAX_GUIDANCE),
            duration_s=_opt_float(data.get("duration_s"), f"{where}, duration_s", 0.0, MAX_DURATION_S),
            notes=_text(data.get("notes", ""), f"{where}, notes"),
            accepted_take=accepted,
            seed_locked=_bool(data.get("seed_locked", False), f"{where}, seed_locked"),
            shot_size=_choice(data.get("shot_size", ""), f"{where}, shot_size", SHOT_SIZES),
            camera_move=_choice(data.get("camera_move", ""), f"{where}, camera_move", CAMERA_MOVES),
            profile=_choice(data.get("profile", ""), f"{where}, profile", ("", *PROFILES)),
            last_take_number=_int(data.get("last_take_number", 0), f"{where}, last_take_number", 0,
                                  MAX_TAKE_NUMBER),
        )
        for take in takes:  # a project saved before take numbers: numbered in their order
            shot.add_take(take)
        return shot


@dataclass
class Soundtrack:
    """Music under the film: a file copied into the project's music/ folder, heard from ``start_s`` into it at
    ``gain_db``. The film's export mixes it in (storymem_engine/soundtrack.py); the editor's preview is silent."""

    file: str  # project-relative (music/<id><suffix>): the project folder travels whole
    name: str  # the file's name as the user chose it, for the status bar and messages
    start_s: float = 0.0
    gain_db: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "name": self.name, "start_s": self.start_s, "gain_db": self.gain_db}

    @classmethod
    def from_dict(cls, data: Any) -> Soundtrack:
        data = _dict(data, "story, soundtrack")
        if not data.get("file"):
            raise StoryError("story, soundtrack: missing field 'file'")
        return cls(file=_text(data["file"], "story, soundtrack, file"),
                   name=_text(data.get("name", ""), "story, soundtrack, name"),
                   start_s=_float(data.get("start_s", 0.0), "story, soundtrack, start_s", 0.0, MAX_DURATION_S),
                   gain_db=_float(data.get("gain_db", 0.0), "story, soundtrack, gain_db", MIN_GAIN_DB, MAX_GAIN_DB))


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
    cast: list[CastMember] = field(default_factory=list)  # the user's reference images (cast.py)
    soundtrack: Soundtrack | None = None

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
            "cast": [m.to_dict() for m in self.cast],
            "soundtrack": self.soundtrack.to_dict() if self.soundtrack is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Story:
        data = _dict(data, "story")
        if "name" not in data:
            raise StoryError("story: missing field 'name'")
        shots = [Shot.from_dict(s, f"shot {n}") for n, s in enumerate(_list(data.get("shots", []), "story, shots"), 1)]
        repeat = _repeated([s.id for s in shots])
        if repeat is not None:
            raise StoryError(f"story: shots {repeat[0]} and {repeat[1]} have the same id {repeat[2]!r} (each shot "
                             "needs its own)")
        scene_extra = {}
        for key, value in _dict(data.get("scene_extra", {}), "story, scene_extra").items():
            if not re.fullmatch(r"-?[0-9]{1,7}", key):
                raise StoryError(f"story, scene_extra: key {key!r} is not a scene number"[:200])
            scene_extra[int(key)] = _json_dict(value, f"story, scene_extra {key}")
        return cls(
            name=_text(data["name"], "story, name"),
            overview=_text(data.get("overview", ""), "story, overview"),
            shots=shots,
            memory_pins=[_text(k, "story, memory_pins") for k in _list(data.get("memory_pins", []), "memory_pins")],
            memory_exclusions=[_text(k, "story, memory_exclusions")
                               for k in _list(data.get("memory_exclusions", []), "memory_exclusions")],
            extra=_json_dict(data.get("extra", {}), "story, extra"),
            scene_extra=scene_extra,
            cast=_cast(data.get("cast", [])),
            soundtrack=None if data.get("soundtrack") is None else Soundtrack.from_dict(data["soundtrack"]),
        )


def _cast(value: Any) -> list[CastMember]:
    members = _list(value, "story, cast")
    if len(members) > MAX_CAST:
        raise StoryError(f"story, cast: {len(members)} members, at most {MAX_CAST}")
    cast = []
    for raw in members:
        raw = _dict(raw, "story, cast member")
        member_id = _id(raw.get("id"), "story, cast member")
        where = f"cast member {member_id}"
        images = _list(raw.get("images", []), f"{where}, images")
        if len(images) > MAX_IMAGES_PER_MEMBER:
            raise StoryError(f"{where}: {len(images)} images, at most {MAX_IMAGES_PER_MEMBER}")
        attach = _text(raw.get("attach", "range"), f"{where}, attach")
        if attach not in ATTACH_MODES:
            raise StoryError(f"{where}, attach: {attach[:40]!r} is not one of {', '.join(ATTACH_MODES)}")
        cast.append(CastMember(
            id=member_id, name=_text(raw.get("name", ""), f"{where}, name"),
            images=[CastImage(id=_id(_dict(i, f"{where}, image").get("id"), f"{where}, image"),
                              path=_text(i.get("path"), f"{where}, image path")) for i in images],
            attach=attach,
            from_shot=_opt_id(raw.get("from_shot", ""), f"{where}, from_shot"),
            to_shot=_opt_id(raw.get("to_shot", ""), f"{where}, to_shot"),
            shots=[_id(s, f"{where}, shots") for s in _list(raw.get("shots", []), f"{where}, shots")],
        ))
    repeat = _repeated([m.id for m in cast])
    if repeat is not None:
        raise StoryError(f"story, cast: members {repeat[0]} and {repeat[1]} have the same id {repeat[2]!r} (each "
                         "member needs its own)")
    return cast


def _opt_id(value: Any, where: str) -> str:
    return "" if value in ("", None) else _id(value, where)


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
        raise StoryError(f"{source}: field 'scenes': expected a non-empty list of scenes")
    found = unsaveable_path(data)
    if found is not None:
        path, what = found
        match = re.match(r"scenes\[(\d+)\]\.(video_prompts|first_frame_prompt)\[(\d+)\]", path)
        if match:
            path = f"scene {int(match[1]) + 1}, shot {int(match[3]) + 1}, field '{match[2]}'"
        raise StoryError(f"{source}: {path} contains {what}, which cannot be saved; fix it in the file")
    story = Story(
        name=_text(data["story_name"], f"{source}: field 'story_name'"),
        # null is "no overview", not the text "None"
        overview=_text(data.get("story_overview"), f"{source}: field 'story_overview'", default=""),
        extra={k: v for k, v in data.items() if k not in ("story_name", "story_overview", "scenes")},
    )
    seen_scenes: dict[int, int] = {}  # scene_num -> its place in the list, from 1
    for s_idx, scene in enumerate(data["scenes"]):
        where_scene = f"{source}: scene {s_idx + 1}"
        if not isinstance(scene, dict):
            raise StoryError(f"{where_scene}: expected an object")
        if "scene_num" not in scene:
            raise StoryError(f"{where_scene}: missing field 'scene_num'")
        scene_num = _int(scene["scene_num"], f"{where_scene}, field 'scene_num'", 1, MAX_SCENE_NUM)
        if scene_num in seen_scenes:
            raise StoryError(f"{source}: scenes {seen_scenes[scene_num]} and {s_idx + 1} in the list both have "
                             f"scene_num {scene_num}; give each scene its own number")
        seen_scenes[scene_num] = s_idx + 1
        where_scene = f"{source}: scene {scene_num}"
        prompts = scene.get("video_prompts")
        if not isinstance(prompts, list) or not prompts:
            raise StoryError(f"{where_scene}, field 'video_prompts': expected a non-empty list of strings")
        cuts = scene.get("cut")
        if not isinstance(cuts, list):
            raise StoryError(f"{where_scene}, field 'cut': expected a list with one entry per shot")
        if len(cuts) != len(prompts):
            raise StoryError(
                f"{where_scene}, field 'cut': {counted(len(cuts), 'entry', 'entries')} for {len(prompts)} video_prompts"
            )
        ffp = scene.get("first_frame_prompt", [])
        if not isinstance(ffp, list):
            raise StoryError(f"{where_scene}, field 'first_frame_prompt': expected a list of strings")
        if len(ffp) > len(prompts):  # the extra ones were dropped without a word: a shot missing, or a typo
            raise StoryError(f"{where_scene}, field 'first_frame_prompt': {counted(len(ffp), 'entry', 'entries')} "
                             f"for {len(prompts)} video_prompts (one per shot at most)")
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
        # The flag as read: a scene may open without a cut (it continues the previous scene's last shot).
        scene["cut"].append(bool(shot.cut))
    return {
        "story_name": story.name,
        "story_overview": story.overview,
        "scenes": scenes,
        **story.extra,
    }


# Story scripts and project files are small: a cap keeps a wrong file (a video, /dev/zero) from being read whole.
MAX_JSON_BYTES = 64 * 2**20
# Deeper than any story or project needs, far below Python's recursion limit.
MAX_JSON_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


# json.JSONDecodeError's messages are clipped phrases ("Unterminated string starting at"): these say them in words.
_JSON_PROBLEMS = {
    "Expecting value": "expected a value: a number, \"text\", true, false, null, an object or a list",
    "Expecting property name enclosed in double quotes": "expected a field name in double quotes",
    "Expecting ',' delimiter": "expected a comma",
    "Expecting ':' delimiter": "expected a colon after the field name",
    "Extra data": "more text after the end of the JSON",
    "Invalid control character at": "a control character such as a tab inside a string; write a tab as \\t",
    "Invalid \\escape": "an invalid backslash escape in a string",
    "Invalid \\uXXXX escape": "an invalid \\u escape in a string",
}


def _json_problem(exc: json.JSONDecodeError) -> str:
    """What is wrong where a JSON file stops parsing, in words, for "not valid JSON at line L, column C (...)"."""
    text, pos = exc.doc, exc.pos
    # The scanner reports a string missing its closing quote only when the file ends inside it.
    if exc.msg.startswith("Unterminated string"):
        return "unterminated string: the file ends before its closing quote"
    if pos >= len(text.rstrip()):
        return "the file ends before the JSON does; it may have been cut off"
    if text[pos] in "}]" and text[:pos].rstrip().endswith(","):
        return f"a comma before the closing {text[pos]}"
    if exc.msg.startswith("Invalid control character") and text[pos] in "\r\n":
        # What a missing closing quote looks like in a file of many lines: the string runs into the next one.
        return "a line break inside a string: its closing quote may be missing, or write the line break as \\n"
    return _JSON_PROBLEMS.get(exc.msg, exc.msg.removesuffix(" at"))


def _json_depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return depth
        level = [v for item in level if isinstance(item, dict | list)
                 for v in (item.values() if isinstance(item, dict) else item)]
    return depth - 1


def _where_bytes(raw: bytes, offset: int) -> str:
    """"at line L, column C" of byte ``offset``, columns counted in characters as an editor shows them."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    line = raw.count(b"\n", 0, offset) + 1
    return f"at line {line}, column {column}"


def read_json_file(path: Path, what: str, error: type[StoryError] = StoryError) -> Any:
    """Parse a JSON file, turning every failure into ``error`` naming the file and the problem.

    Only regular files up to MAX_JSON_BYTES are read (a FIFO would block forever, /dev/zero never ends);
    NaN/Infinity, out-of-range numbers, numbers too long to convert and nesting deeper than MAX_JSON_DEPTH
    are refused rather than loaded and carried into the project.
    """
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: {what} is not a regular file")
        if info.st_size > MAX_JSON_BYTES:
            raise error(f"{path}: {what} is {info.st_size / 2**20:.0f} MiB, more than a {what} can be "
                        f"({MAX_JSON_BYTES // 2**20} MiB)")
        with path.open("rb") as handle:
            raw = handle.read(MAX_JSON_BYTES + 1)
        # utf-8-sig: Windows Notepad and Excel save UTF-8 with a byte order mark, and JSON readers may skip it.
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {what} is not UTF-8 text {_where_bytes(raw, exc.start)}: byte 0x{raw[exc.start]:02x} "
                    "(saved in another encoding such as Latin-1 or Windows-1252?); save it as UTF-8") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc})") from None
    if not text.strip():
        raise error(f"{path}: {what} is empty")
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno} ({_json_problem(exc)})") from None
    except RecursionError:
        raise error(f"{path}: JSON nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, 1e999, integers past Python's 4,300-digit limit
        raise error(f"{path}: unusable number in {what} ({str(exc)[:120]})") from None
    if _json_depth(data) > MAX_JSON_DEPTH:
        raise error(f"{path}: JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return data


def load_story(path: str | os.PathLike[str]) -> Story:
    path = Path(path)
    return story_from_script(read_json_file(path, "story file"), str(path))


def save_story(story: Story, path: str | os.PathLike[str]) -> None:
    from storymem_engine.atomic import atomic_write_text

    atomic_write_text(Path(path), json.dumps(story_to_script(story), indent=2, ensure_ascii=False) + "\n")
