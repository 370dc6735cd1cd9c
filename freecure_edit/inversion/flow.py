"""Rectified-flow inversion for FLUX: the Euler step run backwards, with or without exact corrections.

From the clean latent z_0 (level N, sigma 0) up to z_T (level 0, sigma 1):

    z_i = z_{i+1} + (sigma_i - sigma_{i+1}) * v(z_{i+1}, sigma_{i+1}, guidance)

Each level's velocity is predicted with its own sigma, so the prediction at level i (i < N) is exactly
the sampler's at step i, and the exact method's corrections ("anchors") come out of the inversion's own
calls. When the inversion's guidance differs from the sampler's, the anchor is a second, one-row call at
the same point: a two-row batch would be cheaper but not bit-identical to the sampler's one-row call
(the float result of a row depends on the batch it is computed in). Sampling then retraces the trajectory as "trajectory plus deviation" (exact.py),
bit for bit, at any guidance, because the Euler step has the same linear form as DDIM's.

Methods: "exact" (the default) and "ddim", which here means the plain inversion baseline (an Euler
step backwards, no corrections). Null-text and negative-prompt inversion act on the unconditional branch
of classifier-free guidance, which a guidance-distilled model does not have: they are refused.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Callable

import PIL.Image
import torch

from freecure_edit.backbones.base import Conditioning, PromptPair
from freecure_edit.errors import ConfigurationError
from freecure_edit.inversion.base import Inversion, InversionPass, StepCallback
from freecure_edit.inversion.exact import ExactInversion
from freecure_edit.schedules.flow import FlowSchedule

FLOW_METHODS = ("exact", "ddim")
# FLUX.1-dev's usual guidance; schnell ignores the value.
DEFAULT_FLUX_GUIDANCE = 3.5


class _FlowPrediction:
    """The sampler's prediction on a guidance-distilled model: one row, guidance as an embedding."""

    def predict_noise(
        self, i: int, z: torch.Tensor, pair: PromptPair, guidance_scale: float, own_negative: bool = False,
        true_cfg: float | None = None,
    ) -> torch.Tensor:
        """One row at `guidance_scale` (the embedding); with `own_negative` and `true_cfg` above 1, true
        classifier-free guidance against the pair's negative prompt as FluxPipeline does it:
        v_neg + true_cfg (v - v_neg), in one call of two rows [negative, prompt]."""
        conditioning = self.sampling_conditioning(i, pair, guidance_scale).cond
        if own_negative and pair.negative_prompt and true_cfg is not None and true_cfg != 1.0:
            rows = self.backbone.with_guidance(Conditioning.cat([pair.uncond, pair.cond]), guidance_scale)
            negative, positive = self.backbone.denoise(z.expand(2, *z.shape[1:]), self.schedule.timesteps[i],
                                                       rows).chunk(2)
            return negative + true_cfg * (positive - negative)
        rows = self.backbone.with_guidance(conditioning, guidance_scale)
        batch = z.expand(rows.rows, *z.shape[1:])
        return self.backbone.denoise(batch, self.schedule.timesteps[i], rows)


class FlowInversion(_FlowPrediction, Inversion):
    """Plain rectified-flow inversion, sampled back with plain Euler steps: the baseline, which drifts."""

    method = "flow"


class FlowExactInversion(_FlowPrediction, ExactInversion):
    """Rectified-flow inversion with per-step corrections: sampling from z_T gives z_0 back bit for bit."""

    method = "exact"


def flow_invert(
    backbone,
    z0: torch.Tensor,
    pair: PromptPair,
    schedule: FlowSchedule,
    guidance_scale: float,
    sampling_guidance: float | None = None,
    callback: StepCallback | None = None,
    num_levels: int | None = None,
) -> InversionPass:
    """Euler steps backwards from z_0; `level_noise[i]` is the velocity at `latents[i]` under the sampler's
    guidance (None for level 0, never evaluated). `num_levels` stops after that many steps from the clean
    end, as `ddim_invert` does."""
    sampling_guidance = guidance_scale if sampling_guidance is None else sampling_guidance
    rows = backbone.with_guidance(pair.cond, guidance_scale)
    sampler_rows = None if sampling_guidance == guidance_scale else backbone.with_guidance(pair.cond, sampling_guidance)
    num_steps = schedule.num_steps
    levels = num_steps if num_levels is None else num_levels
    z = z0
    latents = [z0]
    level_noise: list[torch.Tensor | None] = []
    with torch.no_grad():
        for step_number, i in enumerate(reversed(range(num_steps - levels, num_steps))):
            level = i + 1
            velocity = backbone.denoise(z, schedule.level_timestep(level), rows)
            if level < num_steps:
                sampler = velocity if sampler_rows is None else backbone.denoise(z, schedule.timesteps[level], sampler_rows)
                level_noise.append(sampler)
            z = schedule.inverse_step(z, velocity, i)
            latents.append(z)
            if callback is not None:
                callback(step_number, z)
    level_noise.append(None)
    return InversionPass(latents[::-1], level_noise[::-1])


def invert_flow(
    backbone,
    image: PIL.Image.Image | torch.Tensor,
    prompt: str,
    num_inference_steps: int = 28,
    guidance_scale: float | None = None,
    method: str = "exact",
    *,
    inversion_guidance: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    step_callback: Callable[[int, int, torch.Tensor], None] | None = None,
    autoencoder_phase: Callable[[str], AbstractContextManager] | None = None,
) -> Inversion:
    """`invert` for a FLUX backbone. `guidance_scale` is the sampler's guidance (3.5 by default);
    the inversion runs at `inversion_guidance` (by default the same, which costs N + 1 evaluations;
    a different value costs N more, for the sampler's anchors)."""
    if method not in FLOW_METHODS:
        raise ConfigurationError(
            f"{method} inversion does not apply to FLUX, which is guidance-distilled and has no "
            "unconditional branch to optimise; use --inversion exact (or ddim for plain inversion)"
        )
    guidance = DEFAULT_FLUX_GUIDANCE if guidance_scale is None else float(guidance_scale)
    inverting_at = guidance if inversion_guidance is None else float(inversion_guidance)
    pixels = backbone.image_to_tensor(image) if isinstance(image, PIL.Image.Image) else image
    image_size = (pixels.shape[-1], pixels.shape[-2])
    with (autoencoder_phase or (lambda _name: nullcontext()))("autoencoder"):
        z0 = backbone.encode_image(pixels)
    schedule = backbone.schedule(num_inference_steps, tuple(z0.shape[-2:]))
    pair = backbone.encode_prompt(prompt, image_size=image_size)

    def report(done: int, z: torch.Tensor) -> None:
        if progress is not None:
            progress(done + 1, num_inference_steps)
        if step_callback is not None:
            step_callback(done + 1, num_inference_steps, z)

    exact = method == "exact"
    inverted = flow_invert(
        backbone, z0, pair, schedule, inverting_at,
        sampling_guidance=guidance if exact else inverting_at, callback=report,
    )
    common = dict(backbone=backbone, schedule=schedule, prompt_pair=pair, latents=inverted.latents,
                  image_size=image_size, guidance_scale=guidance)
    if not exact:
        return FlowInversion(**common)
    inversion = FlowExactInversion(**common)
    for i, velocity in enumerate(inverted.level_noise):
        if velocity is not None:
            inversion.store_anchor(pair, guidance, i, velocity)
    inversion.prepare_sampling(pair, guidance)
    return inversion
