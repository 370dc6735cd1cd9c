"""The DDIM schedule and its update, as short functions over tensors.

Sampling order is used throughout: step i moves the latent at `timesteps[i]` to the next, less noisy
level, and a trajectory is stored as `latents[0]` (most noisy, z_T) ... `latents[N]` (the clean z_0).

A DDIM move is linear in the latent and the noise prediction, z' = a * z + b * eps. Keeping the two
coefficients explicit is what lets the exact front end write its corrected step as "trajectory plus
deviation" (see exact.py), and a flow-matching schedule (FLUX's Euler step, z' = z + (s' - s) * v) has
the same shape (see flow.py), so the front ends need no change to support it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DDIMSchedule:
    timesteps: tuple[int, ...]
    alphas: tuple[float, ...]
    final_alpha: float
    prediction_type: str = "epsilon"

    @property
    def num_steps(self) -> int:
        return len(self.timesteps)

    def alpha(self, i: int) -> float:
        """Cumulative alpha at sampling step i; i == num_steps is the clean end."""
        return self.final_alpha if i >= self.num_steps else self.alphas[i]

    def step_coefficients(self, i: int) -> tuple[float, float]:
        """(a, b) of the move from level i to level i + 1: z' = a * z + b * eps."""
        return move_coefficients(self.alpha(i), self.alpha(i + 1))

    def inverse_step_coefficients(self, i: int) -> tuple[float, float]:
        """(a, b) of the move from level i + 1 back up to level i."""
        return move_coefficients(self.alpha(i + 1), self.alpha(i))

    def step(self, z: torch.Tensor, eps: torch.Tensor, i: int) -> torch.Tensor:
        a, b = self.step_coefficients(i)
        return a * z + b * eps

    def inverse_step(self, z: torch.Tensor, eps: torch.Tensor, i: int) -> torch.Tensor:
        a, b = self.inverse_step_coefficients(i)
        return a * z + b * eps

    def to_epsilon(self, model_output: torch.Tensor, z: torch.Tensor, i: int) -> torch.Tensor:
        """The noise prediction, whatever the model was trained to predict."""
        if self.prediction_type == "epsilon":
            return model_output
        if self.prediction_type == "v_prediction":
            alpha = self.alpha(i)
            return alpha**0.5 * model_output + (1.0 - alpha) ** 0.5 * z
        raise ValueError(f"prediction type {self.prediction_type!r} is not supported")


def move_coefficients(alpha_from: float, alpha_to: float) -> tuple[float, float]:
    """DDIM's deterministic move between noise levels, with x0 = (z - sqrt(1-a) eps) / sqrt(a)."""
    scale = (alpha_to / alpha_from) ** 0.5
    noise = (1.0 - alpha_to) ** 0.5 - scale * (1.0 - alpha_from) ** 0.5
    return scale, noise


def ddim_schedule(scheduler_config, num_steps: int) -> DDIMSchedule:
    """The DDIM timesteps and alphas for a pipeline's scheduler configuration.

    diffusers' DDIMScheduler computes the spacing (leading, trailing, linspace, steps_offset) the model
    was configured with, so that logic is reused rather than restated.
    """
    from diffusers import DDIMScheduler

    if num_steps < 1:
        raise ValueError("the number of steps must be at least 1")
    scheduler = DDIMScheduler.from_config(scheduler_config)
    scheduler.set_timesteps(num_steps)
    alphas_cumprod = scheduler.alphas_cumprod
    timesteps = tuple(int(t) for t in scheduler.timesteps)
    return DDIMSchedule(
        timesteps=timesteps,
        alphas=tuple(float(alphas_cumprod[t]) for t in timesteps),
        final_alpha=float(scheduler.final_alpha_cumprod),
        prediction_type=scheduler.config.prediction_type,
    )
