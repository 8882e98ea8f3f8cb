"""Frame similarity backends for keyframe extraction.

A backend turns frames into features once (``embed``) and then compares features cheaply
(``pairwise``), because keyframe extraction re-walks the same frames at several thresholds.

- ``ClipSimilarity`` ("clip-vit-b-32"): what the StoryMem reference uses, cosine of CLIP
  ViT-B/32 image embeddings. Needs a local weights file; nothing is downloaded.
- ``HsvPatchSimilarity`` ("hsv-patch"): the model-free measure the reference also ships,
  the fraction of 28x28 HSV patches whose cosine is above 0.7. The default when no CLIP
  weights are configured.

Frames everywhere are ``np.ndarray`` uint8 ``[N, H, W, 3]`` RGB. torch and open_clip are only
imported when a CLIP backend is built, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

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
    """Frames resized to the reference's analysis size (about 336x588 for 480x832 video)."""
    import cv2

    frames = check_frames(frames)
    n, h, w, _ = frames.shape
    out_h, out_w = smart_resize(h, w)
    if (out_h, out_w) == (h, w):
        return frames
    # INTER_AREA when shrinking stands in for the reference's antialiased bilinear resize.
    interp = cv2.INTER_AREA if out_h * out_w < h * w else cv2.INTER_LINEAR
    out = np.empty((n, out_h, out_w, 3), dtype=np.uint8)
    for i in range(n):
        out[i] = cv2.resize(frames[i], (out_w, out_h), interpolation=interp)
    return out


@runtime_checkable
class FrameSimilarity(Protocol):
    """What keyframe extraction needs from a similarity backend."""

    name: str

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Features for uint8 [N, H, W, 3] RGB frames; row i belongs to frame i."""
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
def _load_clip_model(path: str, mtime_ns: int, quick_gelu: bool, device: str) -> Any:
    # Cached per file version: extraction runs after every shot and a load takes seconds.
    import open_clip

    try:
        # The returned transforms are unused: the reference squashes frames to 224x224 with
        # bilinear resizing instead of open_clip's resize + center crop.
        model, _, _ = open_clip.create_model_and_transforms(
            CLIP_MODEL_NAME, pretrained=path, force_quick_gelu=quick_gelu, device=device
        )
    except Exception as exc:  # open_clip raises RuntimeError/KeyError/pickle errors alike
        raise ClipWeightsError(f"could not load CLIP {CLIP_MODEL_NAME} weights from {path}: {exc}") from exc
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


class ClipSimilarity(_PairwiseMixin):
    """Cosine of L2-normalised CLIP ViT-B/32 image embeddings (the reference's measure).

    ``weights_path`` is a local open_clip-format checkpoint (``.bin``/``.pt``/``.pth``
    state dict or ``.safetensors``), e.g. ``open_clip_pytorch_model.bin`` of the OpenAI
    ViT-B/32. ``quick_gelu`` defaults to True because the reference uses OpenAI's weights,
    which were trained with QuickGELU; it does not change which keys the file must hold.
    """

    name = "clip-vit-b-32"

    def __init__(
        self,
        weights_path: str | os.PathLike[str],
        device: str | None = None,
        quick_gelu: bool = True,
        batch_size: int = 32,
    ) -> None:
        path = os.path.abspath(os.fspath(weights_path))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CLIP ViT-B/32 weights file not found: {path}")
        import torch

        self.weights_path = path
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        self.model = _load_clip_model(path, os.stat(path).st_mtime_ns, quick_gelu, self.device)

    def preprocess(self, frames: np.ndarray) -> Any:
        """uint8 frames -> float tensor [N, 3, 224, 224], bilinear squash + CLIP mean/std."""
        import torch
        import torch.nn.functional as F

        # Like the reference, go through the analysis size first, then squash to 224x224.
        frames = resize_for_analysis(frames)
        x = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        x = F.interpolate(x, size=(CLIP_SIZE, CLIP_SIZE), mode="bilinear", align_corners=False)
        mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def embed(self, frames: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        frames = check_frames(frames)
        out = []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                x = self.preprocess(frames[start : start + self.batch_size])
                z = self.model.encode_image(x).float()
                out.append(F.normalize(z, dim=-1).cpu().numpy())
        if not out:
            return np.zeros((0, self.model.visual.output_dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def pairwise(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float64) @ np.asarray(b, dtype=np.float64).T


def make_similarity(clip_weights: str | os.PathLike[str] | None) -> FrameSimilarity:
    """CLIP when ``clip_weights`` names an existing file, else the model-free HSV measure.

    A configured path that does not exist falls back to HSV with a warning rather than
    failing a whole story mid-run; the backend's ``name`` travels with every result, so the
    switch stays visible. Build ``ClipSimilarity`` directly to make a missing file an error.
    """
    if clip_weights:
        if os.path.isfile(clip_weights):
            return ClipSimilarity(clip_weights)
        log.warning("CLIP weights %s not found; using the model-free hsv-patch similarity", clip_weights)
    return HsvPatchSimilarity()
