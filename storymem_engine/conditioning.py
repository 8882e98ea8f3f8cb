"""The M2V / MI2V / MM2V condition: memory latents + shot latents on the frame axis, plus the mask.

Layout (see shared/design/storymem-method.md, "Memory conditioning"):
  y = concat_channels(mask[4], latents[16]) over M + T latent frames, where the first M frames are
  the memory images (each VAE-encoded alone as a one-frame clip) and the last T frames are the
  shot clip encoded exactly as Wan I2V encodes its condition video.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

MOTION_FRAMES = 5


def _vae_stats(vae, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    z = vae.config.z_dim
    mean = torch.tensor(vae.config.latents_mean).view(1, z, 1, 1, 1).to(device, dtype)
    inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, z, 1, 1, 1).to(device, dtype)
    return mean, inv_std


def _vae_device(vae) -> torch.device:
    from diffusers.utils.torch_utils import get_module_execution_device

    return get_module_execution_device(vae)


def encode_normalised(vae, clip: torch.Tensor) -> torch.Tensor:
    """VAE posterior mode of a [B, 3, F, H, W] clip in [-1, 1], normalised like Wan I2V does."""
    device = _vae_device(vae)
    latent = vae.encode(clip.to(device=device, dtype=vae.dtype)).latent_dist.mode()
    latent = latent.float()
    mean, inv_std = _vae_stats(vae, latent.device, latent.dtype)
    return (latent - mean) * inv_std


def fit_image(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a [3, h, w] image in [-1, 1] to the shot size exactly as the reference does.

    ``F.interpolate(img[None], size=(h, w), mode="bicubic")`` (align_corners False), no crop and no
    clamp: bicubic overshoots [-1, 1] at edges, and the reference hands those values to the VAE as they are.
    """
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"memory image must be [3, H, W], got {tuple(image.shape)}")
    image = image.float()
    if tuple(image.shape[1:]) == (height, width):
        return image
    return F.interpolate(image[None], size=(height, width), mode="bicubic", align_corners=False)[0]


def shot_mode(first_frame, motion_frames) -> str:
    if first_frame is not None and motion_frames is not None:
        raise ValueError("give either first_frame (MI2V) or motion_frames (MM2V), not both")
    if motion_frames is not None:
        return "mm2v"
    if first_frame is not None:
        return "mi2v"
    return "m2v"


def build_memory_condition(
    vae,
    memory_images: Sequence[torch.Tensor],
    num_frames: int,
    height: int,
    width: int,
    first_frame: torch.Tensor | None = None,
    motion_frames: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return y = [1, 4 + 16, M + T, h, w]: the mask channels, then the condition latents."""
    t_stride = 4
    if num_frames < 1 or (num_frames - 1) % t_stride:
        raise ValueError(f"num_frames must be 4n+1 (e.g. 81), got {num_frames}")
    mode = shot_mode(first_frame, motion_frames)

    memory_latents = [
        encode_normalised(vae, fit_image(img, height, width)[None, :, None]) for img in memory_images
    ]

    # The shot part is built as Wan I2V builds its condition video: known frames then zeros.
    clip = torch.zeros(1, 3, num_frames, height, width)
    known_pixels = 0
    if mode == "mi2v":
        clip[:, :, 0] = fit_image(first_frame, height, width)
        known_pixels = 1
    elif mode == "mm2v":
        if motion_frames.dim() != 4 or motion_frames.shape[0] != MOTION_FRAMES:
            raise ValueError(f"motion_frames must be [{MOTION_FRAMES}, 3, H, W], got {tuple(motion_frames.shape)}")
        if num_frames < MOTION_FRAMES:
            raise ValueError(f"MM2V needs at least {MOTION_FRAMES} frames, got {num_frames}")
        for i in range(MOTION_FRAMES):
            clip[:, :, i] = fit_image(motion_frames[i], height, width)
        known_pixels = MOTION_FRAMES
    shot_latents = encode_normalised(vae, clip)

    latents = torch.cat([*memory_latents, shot_latents], dim=2) if memory_latents else shot_latents
    num_memory = len(memory_latents)
    _, _, total, h, w = latents.shape

    # A latent frame is "known" when any of its pixel frames is: with the first pixel frame
    # repeated 4x (Wan's causal VAE), pixel 0 -> latent 0 and pixels 1..4 -> latent 1.
    known_latent = 0 if known_pixels == 0 else (known_pixels - 1 + t_stride - 1) // t_stride + 1
    mask = torch.zeros(1, t_stride, total, h, w, dtype=latents.dtype, device=latents.device)
    mask[:, :, : num_memory + known_latent] = 1.0
    return torch.cat([mask, latents], dim=1)
