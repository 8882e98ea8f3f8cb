"""Wan I2V with the StoryMem memory condition in place of the single-image condition.

Everything else (prompt encoding, the two-expert denoising loop with the boundary, CFG, the
scheduler) is diffusers' WanImageToVideoPipeline as it is: the only hook is `prepare_latents`,
which returns noise over M + T latent frames and our precomputed condition y. CFG therefore gets
the same y in the unconditional pass, as the method requires.
"""

from __future__ import annotations

import torch
from diffusers import WanImageToVideoPipeline
from diffusers.utils.torch_utils import get_module_execution_device, randn_tensor

from storymem_engine.rope import set_memory_frames


class StoryMemPipeline(WanImageToVideoPipeline):
    _memory_condition: torch.Tensor | None = None

    def prepare_latents(self, image, batch_size, num_channels_latents=16, height=480, width=832, num_frames=81,
                        dtype=None, device=None, generator=None, latents=None, last_image=None):
        condition = self._memory_condition
        if condition is None:
            return super().prepare_latents(image, batch_size, num_channels_latents, height, width, num_frames,
                                           dtype, device, generator, latents, last_image)
        # Memory slots are noise too: the latents cover all M + T frames of the condition.
        _, _, frames, h, w = condition.shape
        shape = (batch_size, num_channels_latents, frames, h, w)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        condition = condition.to(device=device, dtype=dtype).expand(batch_size, -1, -1, -1, -1)
        return latents, condition

    @torch.no_grad()
    def generate_with_memory(self, condition: torch.Tensor, num_memory_frames: int, num_frames: int, **kwargs):
        """Denoise under `condition` ([1, 20, M+T, h, w]), drop the M memory frames, decode.

        Returns float frames [F, H, W, 3] in [0, 1].
        """
        height = kwargs.pop("height")
        width = kwargs.pop("width")
        # check_inputs wants an image; with our prepare_latents it only fixes size and dtype.
        placeholder = torch.zeros(1, 3, height, width)
        self._memory_condition = condition
        set_memory_frames((self.transformer, self.transformer_2), num_memory_frames)
        try:
            latents = self(image=placeholder, height=height, width=width, num_frames=num_frames,
                           output_type="latent", return_dict=False, **kwargs)[0]
        finally:
            self._memory_condition = None
            set_memory_frames((self.transformer, self.transformer_2), 0)
        return self.decode_latents(latents[:, :, num_memory_frames:])

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        vae = self.vae
        latents = latents.to(device=get_module_execution_device(vae), dtype=vae.dtype)
        mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
        inv_std = 1.0 / torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1).to(latents)
        video = vae.decode(latents / inv_std + mean, return_dict=False)[0]
        frames = self.video_processor.postprocess_video(video, output_type="pt")[0]  # [F, 3, H, W]
        self.maybe_free_model_hooks()
        return frames.permute(0, 2, 3, 1).float().cpu()
