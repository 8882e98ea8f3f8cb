"""The reference's sampling grid on diffusers' UniPC.

The official StoryMem code samples with Wan's ``FlowUniPCMultistepScheduler``: it builds the unshifted
grid ``linspace(sigma_max, 0, N + 1)[:-1]`` with ``sigma_max`` = 0.999 stored as float32, applies the
shift ``s*x / (1 + (s-1)*x)`` in float64, takes the integer timesteps ``int64(sigma * 1000)`` and
appends a final sigma of 0. diffusers' ``UniPCMultistepScheduler(use_flow_sigmas=True)`` computes
the same shift, timesteps and final sigma, and its UniPC update (order 2, bh2, x0 prediction) is the
same code, but its default grid starts from ``linspace(1, 1/1000, N)``: up to 3.5e-3 apart in sigma
and 4 in the timestep at 40 steps. Passing the reference's unshifted grid as explicit ``sigmas``
makes both schedules identical, value for value. The Wan pipelines call ``set_timesteps(N)`` with no
sigmas, so the subclass below supplies them; everything else is diffusers' scheduler as it is.
"""

from __future__ import annotations

import numpy as np
from diffusers import UniPCMultistepScheduler

NUM_TRAIN_TIMESTEPS = 1000


def reference_sigma_max(num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> float:
    """The official scheduler's ``sigma_max``: the top of its training grid, 1 - 1/1000 held in float32."""
    alphas = np.linspace(1, 1 / num_train_timesteps, num_train_timesteps)[::-1].copy()
    return float(np.float32(1.0 - alphas[0]))


def reference_unshifted_sigmas(steps: int, num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """``linspace(sigma_max, 0, steps + 1)[:-1]`` (float64): the official grid before the shift."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return np.linspace(reference_sigma_max(num_train_timesteps), 0.0, steps + 1).copy()[:-1]


class ReferenceGridUniPC(UniPCMultistepScheduler):
    """diffusers' flow UniPC whose default grid is the official StoryMem one (see the module docstring)."""

    def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, mu=None):
        if sigmas is None and num_inference_steps is not None:
            sigmas = reference_unshifted_sigmas(num_inference_steps, self.config.num_train_timesteps)
        super().set_timesteps(num_inference_steps, device=device, sigmas=sigmas, mu=mu)


def reference_scheduler(config, shift: float) -> ReferenceGridUniPC:
    """The sampler of one shot: UniPC flow, order 2, bh2, the given flow shift, the reference grid."""
    return ReferenceGridUniPC.from_config(
        config, prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=float(shift),
        solver_order=2, solver_type="bh2", predict_x0=True, lower_order_final=True, final_sigmas_type="zero",
        use_dynamic_shifting=False, use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False,
        shift_terminal=None, num_train_timesteps=NUM_TRAIN_TIMESTEPS,
    )
