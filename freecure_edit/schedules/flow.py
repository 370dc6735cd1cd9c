"""The flow-matching Euler schedule (FLUX), in the same linear form as DDIM's.

A rectified-flow model predicts a velocity v at noise level sigma (1 is pure noise, 0 the clean
latent); one Euler step from sigma_i to sigma_{i+1} is

    z' = z + (sigma_{i+1} - sigma_i) * v,   i.e.  a = 1, b = sigma_{i+1} - sigma_i,

and the inversion runs the same step backwards (b = sigma_i - sigma_{i+1}). The exact front end only
needs (a, b), so it corrects a FLUX trajectory exactly as it corrects a DDIM one.

FLUX shifts its sigmas toward the noisy end for larger images: mu grows linearly with the number of
image tokens (between `base_shift` at 256 tokens and `max_shift` at 4096) and the scheduler applies
it; schnell turns the dynamic shift off. diffusers' FlowMatchEulerDiscreteScheduler does this work, so
its sigmas are read rather than restated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# diffusers' FLUX pipeline passes the model sigma * 1000 / 1000; the factor is the training timesteps.
TRAIN_TIMESTEPS = 1000


@dataclass(frozen=True)
class FlowSchedule:
    """sigmas[0] (noisiest) ... sigmas[N] (0, the clean end); timesteps[i] = sigmas[i] * 1000."""

    sigmas: tuple[float, ...]
    prediction_type: str = "flow"

    @property
    def num_steps(self) -> int:
        return len(self.sigmas) - 1

    @property
    def timesteps(self) -> tuple[float, ...]:
        return tuple(sigma * TRAIN_TIMESTEPS for sigma in self.sigmas[:-1])

    def level_timestep(self, level: int) -> float:
        """The model timestep of trajectory level `level` (0 = z_T ... N = z_0, whose sigma is 0)."""
        return self.sigmas[level] * TRAIN_TIMESTEPS

    def step_coefficients(self, i: int) -> tuple[float, float]:
        return 1.0, self.sigmas[i + 1] - self.sigmas[i]

    def inverse_step_coefficients(self, i: int) -> tuple[float, float]:
        return 1.0, self.sigmas[i] - self.sigmas[i + 1]

    def step(self, z: torch.Tensor, velocity: torch.Tensor, i: int) -> torch.Tensor:
        a, b = self.step_coefficients(i)
        return a * z + b * velocity

    def inverse_step(self, z: torch.Tensor, velocity: torch.Tensor, i: int) -> torch.Tensor:
        a, b = self.inverse_step_coefficients(i)
        return a * z + b * velocity

    def to_epsilon(self, model_output: torch.Tensor, z: torch.Tensor, i: int) -> torch.Tensor:
        """The quantity the move is linear in: for a flow model, its velocity as predicted."""
        return model_output


def image_shift(image_tokens: int, scheduler_config) -> float:
    """FLUX's resolution-dependent shift mu for a latent of `image_tokens` packed tokens."""
    base_tokens = scheduler_config.get("base_image_seq_len", 256)
    max_tokens = scheduler_config.get("max_image_seq_len", 4096)
    base_shift = scheduler_config.get("base_shift", 0.5)
    max_shift = scheduler_config.get("max_shift", 1.15)
    slope = (max_shift - base_shift) / (max_tokens - base_tokens)
    return image_tokens * slope + base_shift - slope * base_tokens


def flow_schedule(scheduler_config, num_steps: int, image_tokens: int) -> FlowSchedule:
    """FLUX's sigmas for `num_steps` at an image of `image_tokens` packed tokens, as FluxPipeline sets them."""
    import numpy as np
    from diffusers import FlowMatchEulerDiscreteScheduler

    if num_steps < 1:
        raise ValueError("the number of steps must be at least 1")
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(scheduler_config)
    sigmas = np.linspace(1.0, 1.0 / num_steps, num_steps)
    mu = image_shift(image_tokens, scheduler.config) if scheduler.config.use_dynamic_shifting else None
    scheduler.set_timesteps(num_steps, sigmas=sigmas, mu=mu)
    return FlowSchedule(sigmas=tuple(float(s) for s in scheduler.sigmas))
