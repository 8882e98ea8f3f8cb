"""The director: generates a story shot by shot, feeding keyframes into the memory bank.

Memory is derived, never stored as truth: the memory shot k gets is computed from the accepted
takes of the shots before it (sink + window, the user's pins and exclusions). A shot whose
accepted take was made from exactly the request it would get now is skipped on a rerun.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from storymem_engine.engine import (
    PHASE_KEYFRAMES,
    CancelFn,
    EngineError,
    GenerationCancelled,
    Progress,
    ProgressFn,
    StoryMemEngine,
)
from storymem_engine.keyframes import KeyframeSettings, extract_keyframes
from storymem_engine.memory import Keyframe, select_memory, story_memory_bank
from storymem_engine.project import TAKES_DIR, Project, take_folder
from storymem_engine.request import (
    DRAFT_GUIDANCE,
    DRAFT_SHIFT,
    DRAFT_STEPS,
    DROPPED_FRAMES,
    MODE_SCHEDULE,
    PROFILES,
    SEED_RULES,
    GenerationRequest,
    check_frames,
    is_draft,
    size_for_aspect,
    unrecorded_fields,
)
from storymem_engine.shot_modes import ModeError, resolve_mode
from storymem_engine.story import Take
from storymem_engine.take_files import MISSING, take_file_problem, unreadable, why_unreadable

MOTION = 5
# The request's fields in the words the CLI's flags and the inspector use, for "its ... changed".
_REQUEST_WORDS = {"width": "size", "height": "size", "num_frames": "frames", "first_frame": "first frame",
                  "motion_frames": "motion frames", "boundary_ratio": "expert boundary",
                  "negative_prompt": "negative prompt", "rope_stride": "rope stride", "lora_variant": "LoRA",
                  "seed_rule": "seed rule", "vae_tiling": "VAE tiling"}


@dataclass
class DirectorSettings:
    seed: int = 0
    width: int = 832
    height: int = 480
    frames: int = 81
    steps: int = 40
    guidance: float = 3.5
    max_memory: int = 10
    fix: int = 3
    references: list[str] = field(default_factory=list)  # MR2V: project-relative reference images
    seed_rule: str = "scene"  # see request.SEED_RULES
    profile: str = "final"  # request.PROFILES; a shot's own profile wins
    keyframes: KeyframeSettings = field(default_factory=KeyframeSettings)
    # False when another writer owns project.json: the app's UI thread records each take itself
    # (project.record_take), so a save made while a shot renders is never overwritten by this snapshot.
    save_project: bool = True

    @classmethod
    def from_fields(cls, values: dict[str, Any], **more: Any) -> DirectorSettings:
        """From JSON-ready fields (RenderSettings.director_fields, a worker job): keyframes as a dict."""
        values = {**values, **more}
        values["keyframes"] = KeyframeSettings(**values.get("keyframes", {}))
        return cls(**values)

    def validate(self) -> None:
        check_frames(self.frames)
        if self.width % 16 or self.height % 16 or self.width <= 0 or self.height <= 0:
            raise ValueError(f"size must be positive multiples of 16, got {self.width}x{self.height}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not 1 <= self.max_memory:
            raise ValueError(f"max memory must be >= 1, got {self.max_memory}")
        if not 0 <= self.fix <= self.max_memory:
            raise ValueError(f"fix (memory sink) must be between 0 and max memory, got {self.fix}")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown quality profile {self.profile!r} (expected one of {', '.join(PROFILES)})")
        if self.seed_rule not in SEED_RULES:
            raise ValueError(f"unknown seed rule {self.seed_rule!r} (expected one of {', '.join(SEED_RULES)})")


class ImageUnreadable(EngineError):
    """An image that is gone or does not decode; ``reason`` says why in words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def load_image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise ImageUnreadable(f"image not found: {path}", "it is not in the project folder") from None
    except Exception as exc:  # noqa: BLE001 - PIL's decoders raise IndexError, EOFError, struct.error on damage
        reason = why_unreadable(exc)
        raise ImageUnreadable(f"cannot read image {path}: {reason}", reason) from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image's header, without decoding it."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise EngineError(f"image not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - as load_image: any decoder error on a damaged file, with its reason
        raise EngineError(f"cannot read image {path}: {why_unreadable(exc)}") from None


# Request fields a profile sets: a final take asked to be a draft keeps them (see why_regenerate).
PROFILE_FIELDS = ("steps", "guidance", "shift")


def index_in_scene(story, index: int) -> int:
    """How many shots of the same scene come before shot ``index`` (the reference's ``i`` in a scene)."""
    scene = story.shots[index].scene_num
    n = 0
    while index - n - 1 >= 0 and story.shots[index - n - 1].scene_num == scene:
        n += 1
    return n


def save_image(path: Path, frame: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)


class Director:
    def __init__(self, project: Project, engine: StoryMemEngine, settings: DirectorSettings) -> None:
        settings.validate()
        self.project = project
        self.engine = engine
        self.settings = settings

    # ----------------------------------------------------------- derived state
    def memory_bank(self, index: int) -> list[Keyframe]:
        return story_memory_bank(self.project.story, index, self.settings.references)

    def memory_for(self, index: int) -> list[Keyframe]:
        story = self.project.story
        return select_memory(self.memory_bank(index), self.settings.max_memory, self.settings.fix,
                             pinned=story.memory_pins, excluded=story.memory_exclusions)

    def seed_for(self, index: int) -> tuple[int, str]:
        """The seed of the shot's first take and the rule it came from ("shot" when the user set or locked one)."""
        shot = self.project.story.shots[index]
        if shot.seed is not None:
            return int(shot.seed), "shot"
        accepted = shot.accepted()
        if shot.seed_locked and accepted is not None and "seed" in accepted.request:
            return int(accepted.request["seed"]), "shot"
        if self.settings.seed_rule == "story":
            return self.settings.seed + index, "story"
        return self.settings.seed + index_in_scene(self.project.story, index), "scene"

    def wants_fresh_seed(self, index: int) -> bool:
        """A further take of a shot whose seed is neither set nor locked draws a new seed: a regenerate varies."""
        shot = self.project.story.shots[index]
        return bool(shot.takes) and shot.seed is None and not shot.seed_locked

    def mode_for(self, index: int) -> str:
        engine = self.engine.settings
        try:
            return resolve_mode(self.project.story, index, engine.continuation, engine.first_shot,
                                references=bool(self.settings.references))
        except ModeError as exc:
            raise EngineError(str(exc)) from None

    def profile_for(self, index: int) -> str:
        return self.project.story.shots[index].profile or self.settings.profile

    def request_for(self, index: int, fresh_seed: int | None = None, profile: str | None = None,
                    seed: tuple[int, str] | None = None) -> GenerationRequest:
        """The shot's request now; ``profile`` and ``seed`` (value, rule) replace the shot's own (Finalize)."""
        story = self.project.story
        shot = story.shots[index]
        s = self.settings
        mode = self.mode_for(index)
        profile = profile or self.profile_for(index)
        shift, boundary = MODE_SCHEDULE[mode]
        steps = shot.steps or s.steps
        guidance = shot.guidance if shot.guidance is not None else s.guidance
        if profile == "draft":
            # The distilled LoRAs are trained for their own step count, shift and no CFG: a shot's own
            # steps/guidance cannot apply to them.
            steps, guidance, shift = DRAFT_STEPS, DRAFT_GUIDANCE, DRAFT_SHIFT
        memory = [] if mode == "t2v" else self.memory_for(index)
        try:
            frames = check_frames(shot.frames or s.frames)
        except ValueError as exc:  # a project.json edited by hand: say which shot, as every other refusal here
            raise EngineError(f"shot {index + 1}: {exc}") from None
        first_frame = None
        motion: list[str] = []
        if mode in ("mi2v", "mm2v"):
            prev = story.shots[index - 1].accepted()
            if prev is None:
                raise EngineError(f"shot {index + 1} continues shot {index}, which has no accepted take yet")
            if mode == "mi2v":
                first_frame = prev.last_frame
            else:
                motion = list(prev.motion_frames)
                if len(motion) != DROPPED_FRAMES["mm2v"]:
                    raise EngineError(
                        f"shot {index + 1} continues the last 5 frames of shot {index} (MM2V), whose take holds "
                        f"{len(motion)}: generate shot {index} with more frames (an MM2V shot keeps 5 fewer than it "
                        f"makes), or make shot {index + 1} a scene cut")
            for path in motion or [first_frame]:
                problem = take_file_problem(self.project.resolve(path)) if path else MISSING
                if problem:  # deleted or damaged since: "image not found: /home/..." named no shot to redo
                    raise EngineError(
                        f"shot {index + 1} continues shot {index}, whose take's last frame"
                        f"{'s' if motion else ''} {path or '(none recorded)'} {problem}: regenerate shot {index}, "
                        f"or make shot {index + 1} a scene cut")
        if frames <= DROPPED_FRAMES[mode]:
            raise EngineError(f"shot {index + 1} makes {frames} frames in {mode.upper()}, which repeats the previous "
                              f"shot's last {DROPPED_FRAMES[mode]}: nothing new would be left; give it 9 or more")
        width, height = s.width, s.height
        # Same area as the chosen size, aspect of the image the shot starts from, as the reference: the
        # motion frames (MM2V), else the previous last frame (MI2V), else the first memory image. Cast references
        # lead a shot's memory; the first keyframe of the film decides instead when there is one, or a cast member
        # attached to shot 7 alone made shot 7 (and the shots continuing it) portrait in a landscape film. With
        # only references (the first shot, MR2V) the first reference decides, as the official MR2V run does.
        film_memory = [m.path for m in memory if not m.key.startswith("ref:")]
        shape_source = motion[0] if motion else first_frame or (film_memory or [m.path for m in memory] or [None])[0]
        if shape_source:
            image_w, image_h = image_size(self.project.resolve(shape_source))
            width, height = size_for_aspect(s.width, s.height, image_h, image_w)
        if seed is None:
            seed = (fresh_seed, "fresh") if fresh_seed is not None else self.seed_for(index)
        return GenerationRequest(
            shot_id=shot.id, prompt=shot.prompt, mode=mode, seed=seed[0], seed_rule=seed[1],
            width=width, height=height, num_frames=frames, steps=steps, guidance=guidance,
            shift=shift, boundary_ratio=boundary, profile=profile,
            memory=[k.path for k in memory], memory_keys=[k.key for k in memory],
            first_frame=first_frame, motion_frames=motion,
            rope_stride=self.engine.settings.rope_stride, engine=self.engine.settings.engine,
            lora_variant=self.engine.settings.continuation, offload=self.engine.settings.offload,
            vae_tiling=self.engine.settings.vae_tiled,
        )

    def is_current(self, index: int) -> bool:
        """True when the shot's accepted take was made from the request it would get now."""
        return self.why_regenerate(index) == ""

    def why_regenerate(self, index: int) -> str:
        """Why the shot's accepted take is not current, in words ("" when it is): no take, a missing file,
        the memory it saw changed, or which settings of its request changed."""
        take = self.project.story.shots[index].accepted()
        if take is None or take.status != "done":
            return "it has no finished take"
        for path in take.files():
            # Not file_missing: that one sees a project in "." as never saved, and `render --out .` is one.
            problem = take_file_problem(self.project.resolve(path), take.frames if path == take.clip else 0)
            if problem:
                return f"its file {path} {problem}"
        try:
            wanted = self.request_for(index).fingerprint()
        except EngineError as exc:
            return f"its request cannot be made ({exc})"
        unrecorded = unrecorded_fields(take.request)
        if unrecorded:
            return "its request does not record " + ", ".join(unrecorded)
        made = GenerationRequest.from_dict(take.request).fingerprint()
        if take.request.get("seed_rule") == "fresh":
            made.pop("seed", None)  # a drawn seed is as current as the rule's: compare everything else
            wanted.pop("seed", None)
        if made.get("profile") == "final" and wanted.get("profile") == "draft":
            # A final take where a draft is asked for is current: a rerun never trades it for a draft.
            for key in ("profile", *PROFILE_FIELDS):
                made.pop(key, None)
                wanted.pop(key, None)
        if made == wanted:
            return ""
        if made.get("memory_keys") != wanted.get("memory_keys"):
            return "the memory it would get changed (earlier shots have other keyframes now)"
        changed = sorted(k for k in set(made) | set(wanted) if made.get(k) != wanted.get(k))
        words = dict.fromkeys(_REQUEST_WORDS.get(k, k.replace("_", " ")) for k in changed)  # size once, not twice
        return "its " + ", ".join(words) + " changed"

    def matching_take(self, index: int) -> Take | None:
        """Another finished take of the shot that is current for these settings (the user accepted an older one in
        the editor, say): a rerun accepts it again instead of generating its twin. The accepted take is left as it
        was when none matches."""
        shot = self.project.story.shots[index]
        accepted = shot.accepted_take
        for take in reversed(shot.takes):  # the newest first
            if take.id == accepted or take.status != "done":
                continue
            shot.accepted_take = take.id
            if not self.why_regenerate(index):
                return take
        shot.accepted_take = accepted
        return None

    # -------------------------------------------------------------- generation
    def draft_shots(self) -> list[int]:
        """Shots whose accepted take is a draft, in story order (what Finalize regenerates)."""
        return [i for i, shot in enumerate(self.project.story.shots) if is_draft(shot.accepted())]

    def generate_shot(self, index: int, progress: ProgressFn | None = None,
                      cancel: CancelFn | None = None, finalize: bool = False, vary: bool = True) -> Take:
        """Generate one shot as a new accepted take (files written first, then the project).

        ``finalize``: a shot whose accepted take is a draft is made again at the final profile with the draft's
        seed (the draft stays as an older take); any other shot is made as usual. ``vary`` False: a further take
        keeps the seed rule's seed instead of drawing a fresh one (a render's rerun reproduces the story).
        """
        from storymem_engine.video import write_video

        shot = self.project.story.shots[index]
        self._check_references(index)
        draft = shot.accepted() if finalize and is_draft(shot.accepted()) else None
        if draft is not None:
            seed = (draft.request["seed"], str(draft.request.get("seed_rule", "shot"))) \
                if "seed" in draft.request else None  # a hand-made take may not record one: the rule's then
            request = self.request_for(index, profile="final", seed=seed)
        else:
            fresh = random.SystemRandom().randrange(0, 2**31) if vary and self.wants_fresh_seed(index) else None
            request = self.request_for(index, fresh_seed=fresh)
        load = self._load_earlier
        memory = [load(p) for p in request.memory]
        first = load(request.first_frame) if request.first_frame else None
        motion = np.stack([load(p) for p in request.motion_frames]) if request.motion_frames else None
        # CLIP before the shot: damaged weights stop it now, not after minutes of sampling thrown away.
        similarity = self.engine.keyframe_similarity()
        start = time.monotonic()
        frames = self.engine.generate(request, memory, first, motion, progress=progress, cancel=cancel)
        if frames.shape[0] != request.output_frames:
            raise EngineError(f"shot {index + 1}: engine returned {frames.shape[0]} frames, "
                              f"expected {request.output_frames}")
        if progress:
            progress(Progress(shot.id, request.steps, request.steps, PHASE_KEYFRAMES, time.monotonic() - start))
        # De-duplicate against every keyframe saved so far, as the reference, not only this shot's memory.
        bank = self._dedup_images(index, dict(zip(request.memory, memory, strict=True)))
        result = extract_keyframes(frames, bank, self.settings.keyframes, similarity=similarity)
        if cancel is not None and cancel():
            raise GenerationCancelled(f"generation of {shot.id} was cancelled")

        take_id = uuid.uuid4().hex[:10]
        folder = take_folder(self.project, shot.id, take_id)  # no shot id can lead outside the project
        folder.mkdir(parents=True, exist_ok=True)
        rel = lambda p: self.project.relative(p)  # noqa: E731
        write_video(folder / "clip.mp4", frames, fps=16)
        keyframe_paths = []
        for n, i in enumerate(result.indices):
            save_image(folder / f"keyframe_{n}.png", frames[i])
            keyframe_paths.append(rel(folder / f"keyframe_{n}.png"))
        # Lossless copies of the frames the next shot continues from (not re-read from the MP4).
        save_image(folder / "last.png", frames[-1])
        motion_paths = []
        for n, frame in enumerate(frames[-MOTION:]):
            save_image(folder / f"motion_{n}.png", frame)
            motion_paths.append(rel(folder / f"motion_{n}.png"))
        # A finalized draft keeps the draft's in and out points: same seed and length, so the shot the editor cut
        # is the one made again (a new take from another seed starts whole).
        trim = (draft.trim_in, draft.trim_out) if draft is not None and draft.frames == frames.shape[0] else (0, 0)
        take = Take(
            id=take_id, request=request.to_dict(), clip=rel(folder / "clip.mp4"), keyframes=keyframe_paths,
            last_frame=rel(folder / "last.png"), motion_frames=motion_paths, frames=int(frames.shape[0]),
            created=datetime.now(UTC).isoformat(timespec="seconds"), status="done",
            engine=self.engine.label, backends={**result.backends, **self.engine.take_backends()},
            trim_in=trim[0], trim_out=trim[1], keyframes_note=result.message,
        )
        shot.add_take(take)
        shot.accepted_take = take.id
        if self.settings.save_project:
            self.project.save()
        return take

    def _check_references(self, index: int) -> None:
        """A cast image that is gone or does not decode stops the shot with its name, before anything loads (its
        size may choose the shot's)."""
        from storymem_engine.cast import member_of_key

        for keyframe in self.memory_for(index) if self.mode_for(index) != "t2v" else []:
            found = member_of_key(self.project.story, keyframe.key)
            if found is None:
                continue
            path = self.project.resolve(keyframe.path)
            if not path.is_file():
                raise EngineError(f"the cast reference “{found[0].name}” ({keyframe.path}) is missing from the "
                                  "project folder: add the image again or detach it from this shot")
            problem = unreadable(path)
            if problem:
                raise EngineError(f"the cast reference “{found[0].name}” ({keyframe.path}) cannot be read "
                                  f"({problem}): add the image again or detach it from this shot")

    def _dedup_images(self, index: int, loaded: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The whole memory bank before this shot (references included), less what the user excluded.

        The reference has no exclusions; an excluded keyframe is one the user does not want as memory,
        so a new keyframe that resembles it is kept rather than dropped as a repeat.
        """
        excluded = set(self.project.story.memory_exclusions)
        paths = [k.path for k in self.memory_bank(index) if k.key not in excluded]
        return [loaded[p] if p in loaded else self._load_earlier(p) for p in paths]

    def _load_earlier(self, relative: str) -> np.ndarray:
        """An image an earlier take or a cast member holds. One of a take that does not decode (written over, cut
        off) stops the shot with the way out: the shot that made it."""
        try:
            return load_image(self.project.resolve(relative))
        except ImageUnreadable as exc:
            story = self.project.story
            parts = Path(relative).parts  # takes/<shot id>/<take id>/<file>
            shot_id = parts[1] if len(parts) == 4 and parts[0] == TAKES_DIR else None
            owner = next((i for i, shot in enumerate(story.shots) if shot.id == shot_id), None)
            if owner is not None:
                keyframe = any(relative in take.keyframes for take in story.shots[owner].takes)
                raise EngineError(f"{relative}, made by shot {owner + 1}, cannot be read ({exc.reason}): generate "
                                  f"shot {owner + 1} again (Generate from here on it)"
                                  + (", or exclude this keyframe in the memory strip" if keyframe else "")) from None
            raise  # a cast image: _check_references named it before anything loaded

    def run(self, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
            on_shot: Callable[[int, Take, bool], None] | None = None,
            on_reason: Callable[[int, str], None] | None = None,
            on_reaccepted: Callable[[int, Take], None] | None = None) -> list[Take]:
        """Generate every shot in order; shots whose accepted take is current are skipped, and a shot with another
        take that is current gets that one accepted again (``on_reaccepted``)."""
        takes = []
        for index, shot in enumerate(self.project.story.shots):
            reason = self.why_regenerate(index)
            matching = self.matching_take(index) if reason else None
            if matching is not None:
                if self.settings.save_project:
                    self.project.save()
                if on_reaccepted is not None:
                    on_reaccepted(index, matching)
                take, skipped = matching, True
            elif not reason:
                take = shot.accepted()
                skipped = True
            else:
                if on_reason is not None:
                    on_reason(index, reason)
                # A draft asked to be final is finalized: the same seed, so the final shot is the one previewed.
                finalize = is_draft(shot.accepted()) and self.profile_for(index) == "final"
                # A render reproduces the story: a shot made again keeps its rule seed (the editor's Regenerate varies).
                take = self.generate_shot(index, progress, cancel, finalize=finalize, vary=False)
                skipped = False
            takes.append(take)
            if on_shot:
                on_shot(index, take, skipped)
        return takes
