"""Null-text inversion (Mokady et al., CVPR 2023).

DDIM inversion at guidance 1 gives a trajectory; sampling it back at a target guidance above 1 drifts.
For each step, the unconditional embedding is optimised (Adam) so that the guided step from the current
latent lands on the trajectory's next latent. Sampling then uses the per-step embeddings. The defaults
are the paper's: 10 iterations per step, learning rate 1e-2 decaying linearly with the step index, and
an early stop once the loss is under 1e-5 plus 2e-5 per step already taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from freecure_edit.backbones.base import Conditioning, PromptPair
from freecure_edit.inversion.base import Inversion
from freecure_edit.inversion.schedule import DDIMSchedule


@dataclass
class NullTextSettings:
    inner_steps: int = 10
    learning_rate: float = 1e-2
    early_stop_loss: float = 1e-5
    early_stop_allowance_per_step: float = 2e-5


@dataclass
class NullTextReport:
    """What the optimisation did, per step: iterations used and the loss before and after."""

    iterations: list[int] = field(default_factory=list)
    initial_loss: list[float] = field(default_factory=list)
    final_loss: list[float] = field(default_factory=list)


class NullTextInversion(Inversion):
    method = "null-text"

    def __init__(self, *args, null_embeddings: list[Conditioning], report: NullTextReport, **kwargs):
        super().__init__(*args, **kwargs)
        self.null_embeddings = null_embeddings
        self.report = report

    def sampling_conditioning(self, i: int, pair: PromptPair, guidance_scale: float) -> PromptPair:
        return pair.with_uncond(self.null_embeddings[i])


ProgressCallback = Callable[[int, int], None]


def optimise_null_embeddings(
    backbone,
    trajectory: list[torch.Tensor],
    pair: PromptPair,
    schedule: DDIMSchedule,
    guidance_scale: float,
    settings: NullTextSettings,
    progress: ProgressCallback | None = None,
    step_callback: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[list[Conditioning], NullTextReport]:
    """One optimised unconditional embedding per step, and a report of the optimisation.

    `progress(done, total)` and `step_callback(done, latent)` are called after each step."""
    report = NullTextReport()
    null = pair.uncond.detached()
    embeddings: list[Conditioning] = []
    z = trajectory[0]
    for i in range(schedule.num_steps):
        timestep = schedule.timesteps[i]
        target = trajectory[i + 1]
        with torch.no_grad():
            noise_cond = schedule.to_epsilon(backbone.denoise(z, timestep, pair.cond), z, i)

        def guided_step(uncond: Conditioning) -> torch.Tensor:
            noise_uncond = schedule.to_epsilon(backbone.denoise(z, timestep, uncond), z, i)
            noise = noise_uncond + guidance_scale * (noise_cond - noise_uncond)
            return schedule.step(z, noise, i)

        null, iterations, first_loss = _optimise_one_step(
            backbone, null, guided_step, target, i, settings
        )
        with torch.no_grad():
            z = guided_step(null)
        embeddings.append(null.detached())
        report.iterations.append(iterations)
        report.initial_loss.append(first_loss)
        report.final_loss.append(F.mse_loss(z, target).item())
        if progress is not None:
            progress(i + 1, schedule.num_steps)
        if step_callback is not None:
            step_callback(i + 1, z)
    return embeddings, report


def _optimise_one_step(backbone, null: Conditioning, guided_step, target, i: int, settings):
    # Only the embedding is optimised; torch.autograd.grad leaves the model's own .grad untouched.
    hidden = null.hidden_states.detach().clone().float().requires_grad_(True)
    extras = {
        key: value.detach().clone().float().requires_grad_(key == "text_embeds")
        for key, value in null.extras.items()
    }
    parameters = [hidden] + [value for value in extras.values() if value.requires_grad]
    learning_rate = settings.learning_rate * (1.0 - i / 100.0)
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    threshold = settings.early_stop_loss + i * settings.early_stop_allowance_per_step
    first_loss = None
    iterations = 0
    for _ in range(settings.inner_steps):
        with torch.enable_grad():
            loss = F.mse_loss(guided_step(Conditioning(hidden, extras)), target)
            gradients = _scaled_gradients(loss, parameters)
        backbone.counter.backward_passes += 1
        if gradients is not None:
            for parameter, gradient in zip(parameters, gradients):
                parameter.grad = gradient
            optimizer.step()
        iterations += 1
        loss_value = loss.item()
        first_loss = loss_value if first_loss is None else first_loss
        if loss_value < threshold:
            break
    if first_loss is None:
        with torch.no_grad():
            first_loss = F.mse_loss(guided_step(null), target).item()
    return Conditioning(hidden.detach(), {k: v.detach() for k, v in extras.items()}), iterations, first_loss


def _scaled_gradients(loss: torch.Tensor, parameters: list[torch.Tensor]) -> list[torch.Tensor] | None:
    """Gradients of `loss`, taken of loss / loss and scaled back, in float32.

    The embedding and the loss are float32, but in a half-precision model the gradient flows back
    through fp16 layers, where a loss of ~1e-6 gives gradients below fp16's smallest number: they
    become exactly 0 and Adam never moves. Scaling the loss to ~1 (loss scaling, with the scale set by
    the loss itself) keeps them representable. A step whose scaled gradients overflow is skipped, as
    torch.amp's GradScaler does.
    """
    value = float(loss.detach())
    if value <= 0.0:
        return [torch.zeros_like(p) for p in parameters]
    scale = 1.0 / value
    gradients = torch.autograd.grad(loss * scale, parameters)
    if not all(bool(torch.isfinite(g).all()) for g in gradients):
        return None
    return [g.float() / scale for g in gradients]
