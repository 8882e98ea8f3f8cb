"""Quality gate for keyframe extraction: which frames are good enough to become memory.

A gate has a ``name``, a ``threshold`` and ``score(frames) -> np.ndarray[N]``; a frame is
usable when its score >= threshold. Two gates:

- ``Hpsv3Quality`` ("hpsv3"): the reference's gate, the HPSv3 human-preference reward with an
  empty prompt, usable at >= 3.0. HPSv3 is a 7B VLM; it is used only when the ``hpsv3``
  package is installed and is never imitated by anything else.
- ``SharpnessExposureQuality`` ("sharpness-exposure"): a model-free stand-in that rejects what
  makes a memory image useless (black, blown-out, or blurred-to-flat frames). It does not
  judge aesthetics the way HPSv3 does.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Protocol, runtime_checkable

import numpy as np

from storymem_engine.similarity import check_frames, resize_for_analysis


@runtime_checkable
class QualityGate(Protocol):
    name: str
    threshold: float

    def score(self, frames: np.ndarray) -> np.ndarray:
        """Scores for uint8 [N, H, W, 3] RGB frames; usable when score >= threshold."""
        ...


class SharpnessExposureQuality:
    """Model-free gate: the worst of four sub-scores, each in [0, 1], usable at >= 0.5.

    Measured on the luma of the frame at analysis size (about 336x588), so the numbers do not
    depend on the video resolution:

    - sharpness = min(1, var(Laplacian) / (2 * min_laplacian_var)); a frame with no edges
      (flat colour, smooth gradient, heavy blur) scores ~0. Ordinary footage has a Laplacian
      variance in the hundreds; ``min_laplacian_var`` (10) is where the sharpness score hits 0.5.
    - darkness = min(1, mean luma / (2 * min_mean_luma)): fails below a mean luma of 8 of 255.
    - brightness = min(1, (255 - mean luma) / (2 * (255 - max_mean_luma))): fails above 247.
    - clipping = min(1, (1 - clipped fraction) / (2 * (1 - max_clipped))), clipped meaning luma
      <= 4 or >= 251: fails when more than ``max_clipped`` (80%) of the frame is crushed or blown.

    So 1.0 means no problem was found and anything below 0.5 has at least one of them.
    """

    name = "sharpness-exposure"

    def __init__(
        self,
        threshold: float = 0.5,
        min_laplacian_var: float = 10.0,
        min_mean_luma: float = 8.0,
        max_mean_luma: float = 247.0,
        max_clipped: float = 0.8,
    ) -> None:
        self.threshold = threshold
        self.min_laplacian_var = min_laplacian_var
        self.min_mean_luma = min_mean_luma
        self.max_mean_luma = max_mean_luma
        self.max_clipped = max_clipped

    def measure(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """The raw measurements per frame: laplacian_var, mean_luma, clipped (fraction)."""
        import cv2

        frames = resize_for_analysis(frames)
        lap = np.empty(len(frames))
        mean = np.empty(len(frames))
        clipped = np.empty(len(frames))
        for i, frame in enumerate(frames):
            luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            lap[i] = cv2.Laplacian(luma.astype(np.float32), cv2.CV_32F).var()
            mean[i] = luma.mean()
            clipped[i] = np.mean((luma <= 4) | (luma >= 251))
        return {"laplacian_var": lap, "mean_luma": mean, "clipped": clipped}

    def score(self, frames: np.ndarray) -> np.ndarray:
        frames = check_frames(frames)
        if len(frames) == 0:
            return np.zeros(0)
        m = self.measure(frames)
        sharp = m["laplacian_var"] / (2 * self.min_laplacian_var)
        dark = m["mean_luma"] / (2 * self.min_mean_luma)
        bright = (255.0 - m["mean_luma"]) / (2 * (255.0 - self.max_mean_luma))
        clip = (1.0 - m["clipped"]) / (2 * (1.0 - self.max_clipped))
        return np.clip(np.minimum.reduce([sharp, dark, bright, clip]), 0.0, 1.0)


def hpsv3_available() -> bool:
    return importlib.util.find_spec("hpsv3") is not None


class Hpsv3Quality:
    """The reference gate: HPSv3 reward with an empty prompt, usable at >= 3.0.

    The 7B model loads on the first ``score`` call (not at construction) so choosing the
    gate costs nothing until frames are scored. Frames are scored at analysis size, as in
    the reference.
    """

    name = "hpsv3"

    def __init__(
        self,
        threshold: float = 3.0,
        device: str | None = None,
        checkpoint_path: str | os.PathLike[str] | None = None,
        batch_size: int = 4,
    ) -> None:
        if not hpsv3_available():
            raise ImportError("the hpsv3 package is not installed; HPSv3 quality scoring is unavailable")
        if checkpoint_path is not None and not os.path.isfile(checkpoint_path):
            raise FileNotFoundError(f"HPSv3 checkpoint not found: {os.path.abspath(checkpoint_path)}")
        self.threshold = threshold
        self.device = device
        self.checkpoint_path = None if checkpoint_path is None else os.fspath(checkpoint_path)
        self.batch_size = batch_size
        self._model: Any = None

    def _inferencer(self) -> Any:
        if self._model is None:
            import torch
            from hpsv3 import HPSv3RewardInferencer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = HPSv3RewardInferencer(checkpoint_path=self.checkpoint_path, device=device)
        return self._model

    def score(self, frames: np.ndarray) -> np.ndarray:
        import torch
        from PIL import Image

        frames = resize_for_analysis(frames)
        model = self._inferencer()
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                batch = [Image.fromarray(f) for f in frames[start : start + self.batch_size]]
                rewards = model.reward(image_paths=batch, prompts=[""] * len(batch))
                # Each row is (mean, uncertainty); the reference gates on the mean.
                scores.extend(float(r[0]) for r in rewards)
        return np.asarray(scores, dtype=np.float64)


def make_quality(prefer: str = "auto") -> QualityGate:
    """``auto``: HPSv3 when the package is installed, else the model-free gate.

    ``hpsv3`` or ``sharpness-exposure`` pick one explicitly; asking for HPSv3 without the
    package is an error rather than a silent substitute.
    """
    if prefer == "auto":
        return Hpsv3Quality() if hpsv3_available() else SharpnessExposureQuality()
    if prefer == Hpsv3Quality.name:
        return Hpsv3Quality()
    if prefer == SharpnessExposureQuality.name:
        return SharpnessExposureQuality()
    raise ValueError(f"unknown quality gate {prefer!r}; expected 'auto', 'hpsv3' or 'sharpness-exposure'")
