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
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

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


# ----------------------------------------------------------------------------------------------------------------
# The draft profile's sampler: lightx2v's Wan2.2 4-step distill schedule (the one its distilled LoRAs were made for).
# lightx2v builds ``sigmas = linspace(1, 0, 1001)[:-1]``, shifts them with ``s*x / (1 + (s-1)*x)`` (shift 5) and
# takes the ones at ``1000 - t`` for its ``denoising_step_list`` [1000, 750, 500, 250]: unshifted 1, .75, .5, .25.
# The timesteps are ``sigma * 1000`` (floats: 1000, 937.5, 833.3, 625) and each step is the plain Euler flow
# update ``x += (sigma_next - sigma) * v`` with a last sigma_next of 0. That is diffusers'
# FlowMatchEulerDiscreteScheduler with those unshifted sigmas and its own shift; the Wan pipelines' boundary
# (0.9 M2V, 0.875 T2V) then gives steps 0-1 to the high-noise expert and 2-3 to the low-noise one, as lightx2v's
# boundary_step_index 2 does.
# ----------------------------------------------------------------------------------------------------------------

DRAFT_DENOISING_STEPS = (1000, 750, 500, 250)


def draft_step_list(steps: int, num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> list[int]:
    """lightx2v's denoising_step_list: [1000, 750, 500, 250] at 4 steps, evenly spaced from the top otherwise."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return [round(t) for t in np.linspace(num_train_timesteps, 0, steps + 1)[:-1]]


def draft_unshifted_sigmas(steps: int, num_train_timesteps: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """The unshifted sigmas lightx2v picks: ``linspace(1, 0, T + 1)[:-1][T - t]`` for t in the step list."""
    grid = np.linspace(1.0, 0.0, num_train_timesteps + 1)[:-1]
    return np.array([grid[num_train_timesteps - t] for t in draft_step_list(steps, num_train_timesteps)])


class DraftEuler(FlowMatchEulerDiscreteScheduler):
    """diffusers' flow-matching Euler whose default grid is lightx2v's distill schedule (see above)."""

    def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, mu=None, timesteps=None):
        if sigmas is None and timesteps is None and num_inference_steps is not None:
            sigmas = draft_unshifted_sigmas(num_inference_steps, self.config.num_train_timesteps)
        super().set_timesteps(num_inference_steps, device=device, sigmas=sigmas, mu=mu, timesteps=timesteps)


def draft_scheduler(shift: float) -> DraftEuler:
    """The sampler of a draft shot: Euler flow steps on lightx2v's grid at the given shift (5 for the draft)."""
    return DraftEuler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=float(shift), use_dynamic_shifting=False,
                      stochastic_sampling=False, invert_sigmas=False, shift_terminal=None)
