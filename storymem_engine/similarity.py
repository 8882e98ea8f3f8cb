"""Frame similarity backends for keyframe extraction.

A backend turns frames into features once (``embed``) and then compares features cheaply
(``pairwise``), because keyframe extraction re-walks the same frames at several thresholds.

- ``ClipSimilarity`` ("clip-vit-b-32"): what the StoryMem reference uses, cosine of CLIP
  ViT-B/32 image embeddings; the default. Its weights are part of the models folder; nothing
  is downloaded.
- ``HsvPatchSimilarity`` ("hsv-patch"): the model-free measure the reference also ships,
  the fraction of 28x28 HSV patches whose cosine is above 0.7. Only when the user chooses it:
  on real photos it scores crops and flips of one image 0.93-0.96, so it keeps fewer keyframes.

Frames everywhere are ``np.ndarray`` uint8 ``[N, H, W, 3]`` RGB. torch and open_clip are
imported where frames are resized or a CLIP backend is built, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

# The reference scores frames after a Qwen-VL style "smart resize": sides rounded to multiples of
# 28 and the area clamped to [48, 256] * 28 * 28 pixels, so 480x832 becomes 336x588.
PATCH = 28
ANALYSIS_MIN_PIXELS = 48 * PATCH * PATCH
ANALYSIS_MAX_PIXELS = 256 * PATCH * PATCH
_MAX_ASPECT = 200

CLIP_MODEL_NAME = "ViT-B-32"
CLIP_SIZE = 224
# OpenAI CLIP normalisation constants (also what the reference hard-codes).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def smart_resize(
    height: int,
    width: int,
    factor: int = PATCH,
    min_pixels: int = ANALYSIS_MIN_PIXELS,
    max_pixels: int = ANALYSIS_MAX_PIXELS,
) -> tuple[int, int]:
    """(H, W) closest to the input with both sides multiples of ``factor`` and area within bounds."""
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > _MAX_ASPECT:
        raise ValueError(f"frame aspect ratio must be below {_MAX_ASPECT}, got {height}x{width}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return max(h_bar, factor), max(w_bar, factor)


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Validate a uint8 [N, H, W, 3] clip; a single [H, W, 3] frame becomes [1, H, W, 3]."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [N, H, W, 3] RGB, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    return frames


def resize_for_analysis(frames: np.ndarray) -> np.ndarray:
    """Frames at the reference's analysis size (about 336x588 for 480x832 video).

    As the reference: torch's antialiased bilinear resize of the uint8 clip, which stays uint8.
    """
    import torch
    import torch.nn.functional as F

    frames = check_frames(frames)
    n, h, w, _ = frames.shape
    size = smart_resize(h, w)
    if size == (h, w) or n == 0:
        return frames
    x = torch.from_numpy(np.require(frames, requirements=["C", "W"])).permute(0, 3, 1, 2)
    return F.interpolate(x, list(size), mode="bilinear", antialias=True).permute(0, 2, 3, 1).contiguous().numpy()


def resize_to(images: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Images of any size as one uint8 stack of height x width (for measures that compare like sizes)."""
    import cv2

    out = np.empty((len(images), height, width, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        image = check_frames(image)[0]
        if image.shape[:2] != (height, width):
            interp = cv2.INTER_AREA if image.shape[0] * image.shape[1] > height * width else cv2.INTER_CUBIC
            image = cv2.resize(image, (width, height), interpolation=interp)
        out[i] = image
    return out


@runtime_checkable
class FrameSimilarity(Protocol):
    """What keyframe extraction needs from a similarity backend."""

    name: str

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Features for uint8 [N, H, W, 3] RGB frames; row i belongs to frame i."""
        ...

    def embed_images(self, images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
        """Features of whole images of any size (de-duplication against the memory bank)."""
        ...

    def pairwise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity matrix [len(a), len(b)] between two stacks of features; higher = more alike."""
        ...

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Similarity of two single features (rows of ``embed``)."""
        ...


class _PairwiseMixin:
    def pairwise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.pairwise(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


class HsvPatchSimilarity(_PairwiseMixin):
    """Fraction of PATCHxPATCH patches whose flattened HSV vectors have cosine > ``patch_threshold``.

    Features are the uint8 HSV patches ``[N, P, 3 * 28 * 28]`` (kept as uint8 to hold a whole
    81-frame shot in ~50 MB); frames compared must share a size, which ``extract_keyframes``
    ensures by resizing memory images to the shot's size. Patches that are black in both
    frames carry no information and are left out of the fraction, as in the reference; two
    entirely black frames count as identical (1.0) where the reference would return NaN.
    """

    name = "hsv-patch"

    def __init__(self, patch_size: int = PATCH, patch_threshold: float = 0.7) -> None:
        self.patch_size = patch_size
        self.patch_threshold = patch_threshold

    def embed_images(self, images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
        """Features for de-duplication: images of any size, brought to the shot's ``size`` (H, W) first."""
        return self.embed(resize_to(images, *size))

    def embed(self, frames: np.ndarray) -> np.ndarray:
        import cv2

        frames = resize_for_analysis(frames)
        n, h, w, _ = frames.shape
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(f"analysis size {h}x{w} is not a multiple of the patch size {p}")
        hsv = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2HSV) for f in frames])
        # [N, H, W, C] -> [N, h, p, w, p, C] -> [N, h, w, C, p, p] -> [N, h*w, C*p*p]
        patches = hsv.reshape(n, h // p, p, w // p, p, 3).transpose(0, 1, 3, 5, 2, 4)
        return np.ascontiguousarray(patches.reshape(n, (h // p) * (w // p), 3 * p * p))

    def pairwise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.shape[1:] != b.shape[1:]:
            raise ValueError(
                f"HSV patch features of different shapes cannot be compared: {a.shape[1:]} vs {b.shape[1:]}"
            )
        a_unit, a_zero = self._normalise(a)
        out = np.empty((len(a), len(b)), dtype=np.float64)
        # Chunk b so the float32 copy of a whole shot never sits in memory at once.
        chunk = 16
        for start in range(0, len(b), chunk):
            b_unit, b_zero = self._normalise(b[start : start + chunk])
            # Batched over patches so BLAS does the dot products: [P, A, D] @ [P, D, B] -> [A, B, P].
            cos = np.matmul(a_unit.transpose(1, 0, 2), b_unit.transpose(1, 2, 0)).transpose(1, 2, 0)
            similar = cos > self.patch_threshold
            informative = ~(a_zero[:, None, :] & b_zero[None, :, :])
            counts = informative.sum(axis=-1)
            hits = (similar & informative).sum(axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, start : start + chunk] = np.where(counts > 0, hits / np.maximum(counts, 1), 1.0)
        return out

    @staticmethod
    def _normalise(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = feats.astype(np.float32)
        norms = np.sqrt(np.einsum("...d,...d->...", x, x))
        # uint8 input: a norm below 1 means an all-zero (black) patch.
        zero = norms < 0.01
        return x / (norms[..., None] + 1e-8), zero


class ClipWeightsError(RuntimeError):
    """CLIP weights that cannot be used (missing file, wrong architecture, unreadable)."""


@functools.lru_cache(maxsize=2)
def _load_clip_model(source: str, mtime_ns: int, device: str) -> Any:
    # Cached per file version: extraction runs after every shot and a load takes seconds.
    import open_clip
    import torch

    try:
        # The model is built with random weights before its file is read: on a private random state, so when CLIP
        # loads (before the first shot, or after it) changes nothing else a run draws.
        with torch.random.fork_rng(devices=[]):
            if os.path.isdir(source):
                # A model folder as the Hub holds it (open_clip_config.json + weights), read with no network.
                model = open_clip.create_model(f"local-dir:{source}", force_quick_gelu=True, device=device)
            else:
                model = open_clip.create_model(CLIP_MODEL_NAME, pretrained=source, force_quick_gelu=True,
                                               device=device)
    except Exception as exc:  # open_clip raises RuntimeError/KeyError/ValueError/pickle errors alike
        why = str(exc) or type(exc).__name__
        if len(why) > 300:  # a wrong file's load_state_dict lists every key it lacks: thousands of characters
            why = why[:300].rstrip() + " …"
        raise ClipWeightsError(f"could not load CLIP {CLIP_MODEL_NAME} weights from {source}: {why}") from exc
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def _weights_stamp(path: str) -> int:
    if os.path.isdir(path):
        return max((e.stat().st_mtime_ns for e in os.scandir(path) if e.is_file()), default=0)
    return os.stat(path).st_mtime_ns


IMAGE_CACHE_SIZE = 20_000  # embeddings of 512 floats: about 40 MB at most


class ClipSimilarity(_PairwiseMixin):
    """Cosine of L2-normalised CLIP ViT-B/32 image embeddings, preprocessed as the reference does.

    ``source`` is an open_clip model folder (``open_clip_config.json`` + ``open_clip_model.safetensors``,
    as ``hf download timm/vit_base_patch32_clip_224.openai`` gives) or a single open_clip-format weights
    file for ViT-B/32. QuickGELU is forced because OpenAI's weights were trained with it.

    The reference runs CLIP on the CPU in float32 (``clip.load(..., device="cpu")``), so does this by
    default: on a GPU, TF32 convolutions would move the scores that thresholds of 0.9 compare.
    """

    name = "clip-vit-b-32"

    def __init__(self, source: str | os.PathLike[str], device: str | None = None, batch_size: int = 32) -> None:
        path = os.path.abspath(os.fspath(source))
        if not os.path.exists(path):
            raise FileNotFoundError(f"CLIP ViT-B/32 weights not found: {path}")
        self.weights_path = path
        self.device = device or "cpu"
        self.batch_size = batch_size
        self.model = _load_clip_model(path, _weights_stamp(path), self.device)
        self._image_cache: dict[bytes, np.ndarray] = {}  # image digest -> its de-duplication embedding

    @staticmethod
    def analysis_frames(frames: np.ndarray) -> Any:
        """The reference's walk input: frames at the analysis size, as float 0..255 [N, 3, h, w]."""
        import torch

        return torch.from_numpy(resize_for_analysis(frames)).permute(0, 3, 1, 2).float()

    def preprocess(self, x: Any) -> Any:
        """Frames [N, 3, H, W] (0..255, or 0..1 when no value is above 1.5) -> the CLIP input [N, 3, 224, 224].

        Per frame, as the reference's ``_ensure_rgb01`` and ``_clip_preprocess_tensor``: scale to 0..1,
        squash to 224x224 with bilinear resizing (no crop), normalise with CLIP's mean and std.
        """
        import torch
        import torch.nn.functional as F

        x = x.float()
        peak = x.flatten(1).amax(dim=1).view(-1, 1, 1, 1)
        x = torch.where(peak > 1.5, x / 255.0, x).clamp(0.0, 1.0)
        x = F.interpolate(x, size=(CLIP_SIZE, CLIP_SIZE), mode="bilinear", align_corners=False)
        mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        return (x - mean) / std

    def _encode(self, batches) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        out = []
        with torch.inference_mode():
            for x in batches:
                z = self.model.encode_image(self.preprocess(x).to(self.device)).float()
                out.append(F.normalize(z, dim=-1).cpu().numpy())
        if not out:
            return np.zeros((0, self.model.visual.output_dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Features of a shot's frames for the keyframe walk (at the analysis size, as the reference)."""
        frames = check_frames(frames)
        return self._encode(self.analysis_frames(frames[i: i + self.batch_size])
                            for i in range(0, len(frames), self.batch_size))

    def embed_images(self, images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
        """Features for de-duplication: each image at its own resolution, straight to 224x224.

        The reference compares chosen keyframes (full-size frames) with the saved keyframe images as
        they are; ``size`` is unused here (CLIP squashes every image to 224x224).
        """
        import hashlib

        import torch

        def tensor(image: np.ndarray):
            return torch.from_numpy(np.require(check_frames(image)[0], requirements=["C", "W"])).permute(2, 0, 1)[None]

        # Every shot compares its keyframes with the whole bank saved so far: without this, shot k re-embedded
        # all the earlier keyframes again (each image alone, so a cached row is the same numbers).
        keys = [hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16,
                                person=repr(np.shape(image)).encode()[:16]).digest() for image in images]
        missing = [i for i, key in enumerate(keys) if key not in self._image_cache]
        if missing:
            if len(self._image_cache) > IMAGE_CACHE_SIZE:
                self._image_cache.clear()
            for i, row in zip(missing, self._encode(tensor(images[i]) for i in missing), strict=True):
                self._image_cache[keys[i]] = row
        if not keys:
            return self._encode(())
        return np.stack([self._image_cache[key] for key in keys])

    def pairwise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float64) @ np.asarray(b, dtype=np.float64).T


def load_clip_similarity(source: str | os.PathLike[str], device: str | None = None) -> ClipSimilarity:
    """CLIP from a model folder or file; FileNotFoundError names what is missing."""
    from storymem_engine.models import clip_files_missing

    path = Path(source)
    if path.is_dir():
        missing = clip_files_missing(path)
        if missing:
            raise FileNotFoundError("CLIP ViT-B/32 files missing: " + ", ".join(str(m) for m in missing))
    # The reference scores on the CPU whatever the generator runs on (see ClipSimilarity).
    return ClipSimilarity(path, device="cpu" if device is None else device)


def make_similarity(kind: str = "clip", clip_weights: str | os.PathLike[str] | None = None) -> FrameSimilarity:
    """The backend a keyframe setting names: "clip" (needs ``clip_weights``) or "hsv" (model-free).

    Choosing "clip" without weights, or with a path that does not exist, is an error: falling back
    silently would change which keyframes the memory holds without anyone knowing.
    """
    if kind == "hsv":
        return HsvPatchSimilarity()
    if kind != "clip":
        raise ValueError(f"unknown keyframe similarity {kind!r} (expected clip or hsv)")
    if not clip_weights:
        raise ClipWeightsError("keyframes are picked with CLIP ViT-B/32, but no CLIP weights were given")
    return load_clip_similarity(clip_weights)
