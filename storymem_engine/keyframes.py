"""Keyframe extraction after each shot (StoryMem reference rule).

1. Quality gate: the first frame that passes is the first keyframe.
2. Walk frames 2..N-1; a frame becomes a keyframe when its similarity to the last keyframe is
   below ``thr`` and it passes the gate.
3. ``thr`` starts at 0.9 and drops by 0.01 while more than 3 keyframes come out.
4. Keyframes more similar than 0.9 to any keyframe saved so far (the whole memory bank, not only
   the memory the shot was conditioned on, as the reference) are dropped.

Frames are the decoded shot (uint8 [N, H, W, 3] RGB), never a re-read lossy file. Each frame
is embedded once; the threshold loop only re-reads cached similarities. Keeping the shot's last
frame(s) for MI2V/MM2V is the caller's job: it is a slice, not a selection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from storymem_engine.quality import QualityGate, make_quality
from storymem_engine.similarity import FrameSimilarity, check_frames, make_similarity
from storymem_engine.words import counted


@dataclass
class KeyframeSettings:
    threshold_start: float = 0.9
    threshold_step: float = 0.01
    max_keyframes: int = 3
    # Similarity above which a new keyframe repeats an image of the memory bank and is dropped.
    memory_dedup: float = 0.9
    # "clip" (CLIP ViT-B/32, the method's measure; needs clip_weights) or "hsv" (model-free). The
    # director passes the engine's backend instead, built from the models folder.
    similarity: str = "clip"
    clip_weights: str | None = None  # an open_clip ViT-B/32 folder or weights file
    # "auto" (HPSv3 if installed, else model-free), "hpsv3" or "sharpness-exposure".
    quality: str = "auto"


@dataclass
class KeyframeResult:
    indices: list[int]
    """Frame indices into the shot's frames, ascending; empty when nothing qualified."""
    threshold: float
    """The similarity threshold the final selection was made with."""
    backends: dict[str, str]
    """Which similarity and quality backends produced this, e.g. {"similarity": "clip-vit-b-32", ...}."""
    memory_duplicates: list[int] = field(default_factory=list)
    """Keyframes that were selected but dropped as repeats of a memory image."""
    message: str = ""
    """Why the result is empty or short, in words for the user; empty when nothing to say."""


class _SimilarityCache:
    """Similarities of every frame to a given anchor frame, computed once per anchor."""

    def __init__(self, similarity: FrameSimilarity, features: np.ndarray) -> None:
        self._similarity = similarity
        self.features = features
        self._rows: dict[int, np.ndarray] = {}

    def row(self, anchor: int) -> np.ndarray:
        if anchor not in self._rows:
            self._rows[anchor] = self._similarity.pairwise(self.features[anchor : anchor + 1], self.features)[0]
        return self._rows[anchor]


class _QualityCache:
    """Scores frames on demand: with HPSv3 most frames never need a score."""

    def __init__(self, quality: QualityGate, frames: np.ndarray) -> None:
        self._quality = quality
        self._frames = frames
        self._passed: dict[int, bool] = {}

    def passes(self, index: int) -> bool:
        if index not in self._passed:
            score = float(self._quality.score(self._frames[index : index + 1])[0])
            self._passed[index] = score >= self._quality.threshold
        return self._passed[index]


def _walk(first: int, n: int, thr: float, sims: _SimilarityCache, gate: _QualityCache) -> list[int]:
    keyframes = [first]
    # The reference starts at frame 2 whatever the first keyframe is, so frame 1 is never a
    # keyframe; kept for parity (frame 1 is nearly frame 0 in any 16 fps clip anyway).
    for i in range(2, n):
        if sims.row(keyframes[-1])[i] < thr and gate.passes(i):
            keyframes.append(i)
    return keyframes


def extract_keyframes(
    frames: np.ndarray,
    memory_frames: Sequence[np.ndarray] = (),
    settings: KeyframeSettings | None = None,
    similarity: FrameSimilarity | None = None,
    quality: QualityGate | None = None,
) -> KeyframeResult:
    """Select a shot's keyframes by the StoryMem reference rule (see module docstring).

    ``memory_frames`` are every image saved in the memory bank so far (uint8 [H, W, 3] RGB, any
    size), not only the ones the shot was conditioned on: the reference compares with all of them,
    so content of keyframes that left the memory window does not come back.
    ``similarity``/``quality`` default to the backends ``settings`` asks for.
    """
    settings = settings or KeyframeSettings()
    if settings.max_keyframes < 1:
        raise ValueError(f"max_keyframes must be >= 1, got {settings.max_keyframes}")
    if settings.threshold_step <= 0:
        raise ValueError(f"threshold_step must be > 0, got {settings.threshold_step}")
    frames = check_frames(frames)
    similarity = similarity if similarity is not None else make_similarity(settings.similarity, settings.clip_weights)
    quality = quality if quality is not None else make_quality(settings.quality)
    backends = {"similarity": similarity.name, "quality": quality.name}
    n = len(frames)
    if n == 0:
        return KeyframeResult([], settings.threshold_start, backends, message="the shot has no frames")

    gate = _QualityCache(quality, frames)
    first = next((i for i in range(n) if gate.passes(i)), None)
    if first is None:
        return KeyframeResult(
            [],
            settings.threshold_start,
            backends,
            message=f"no frame passed the {quality.name} quality gate (threshold {quality.threshold:g})",
        )

    sims = _SimilarityCache(similarity, similarity.embed(frames))
    # Once thr is below every possible similarity (cosines and fractions are >= -1) only the
    # first keyframe is left, so the loop ends; the floor guards backends that misbehave. The
    # step count is multiplied rather than accumulated so thresholds are exactly start - k * step.
    step = 0
    while True:
        thr = round(settings.threshold_start - step * settings.threshold_step, 10)
        indices = _walk(first, n, thr, sims, gate)
        if len(indices) <= settings.max_keyframes or thr < -1.0:
            indices = indices[: settings.max_keyframes]
            break
        step += 1

    duplicates: list[int] = []
    if len(memory_frames) > 0:
        size = (frames.shape[1], frames.shape[2])
        memory_sim = similarity.pairwise(similarity.embed_images(frames[indices], size),
                                         similarity.embed_images(memory_frames, size))
        keep = memory_sim.max(axis=1) <= settings.memory_dedup
        duplicates = [idx for idx, k in zip(indices, keep, strict=True) if not k]
        indices = [idx for idx, k in zip(indices, keep, strict=True) if k]

    message = ""
    if not indices:
        message = "every keyframe it picked repeats an image already in memory"
    elif duplicates:
        message = f"{counted(len(duplicates), 'keyframe')} dropped as repeats of memory images"
    return KeyframeResult(indices, thr, backends, duplicates, message)
