"""Inversion front ends: recover a photo's latent trajectory so that it can be regenerated and edited.

    inversion = invert(pipe, image, "a photo of a woman", num_inference_steps=50, method="exact")
    inversion.reconstruct().image      # the photo again, up to the autoencoder

Methods:
- "ddim": plain DDIM inversion at guidance 1 (inverting under strong guidance is known to break);
  `guidance_scale` is the sampler's guidance. The baseline: it drifts, the more the higher the guidance.
- "exact": DDIM inversion at guidance 1, plus corrections that make sampling retrace the trajectory
  under any prompt and guidance; `guidance_scale` is the sampler's guidance. Its corrections come from
  the inversion's own batch, so the whole costs N + 1 evaluations, or 2N + 2 with guidance: the
  same as plain DDIM inversion at that guidance, plus one.
- "null-text": null-text inversion; `guidance_scale` is the target guidance the unconditional
  embeddings are optimised for.
- "negative-prompt": negative-prompt inversion; the source prompt's embedding stands in for the
  unconditional one while sampling.

May import errors.py, backbones/ and schedules/ only: never the method or a front end.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Callable

import PIL.Image
import torch

from freecure_edit.errors import ConfigurationError
from freecure_edit.inversion.base import Inversion, Reconstruction, ddim_invert
from freecure_edit.inversion.exact import ExactInversion
from freecure_edit.inversion.negative_prompt import NegativePromptInversion
from freecure_edit.inversion.null_text import (
    NullTextInversion,
    NullTextReport,
    NullTextSettings,
    optimise_null_embeddings,
)
from freecure_edit.inversion.schedule import DDIMSchedule, ddim_schedule

METHODS = ("exact", "ddim", "null-text", "negative-prompt")
DEFAULT_NULL_TEXT_GUIDANCE = 7.5

__all__ = [
    "METHODS",
    "DDIMSchedule",
    "ExactInversion",
    "Inversion",
    "NegativePromptInversion",
    "NullTextInversion",
    "NullTextReport",
    "NullTextSettings",
    "Reconstruction",
    "ddim_invert",
    "ddim_schedule",
    "invert",
]


def _no_phase(name: str) -> AbstractContextManager:
    return nullcontext()


def invert(
    pipe,
    image: PIL.Image.Image | torch.Tensor,
    prompt: str,
    num_inference_steps: int = 50,
    guidance_scale: float | None = None,
    method: str = "exact",
    *,
    negative_prompt: str = "",
    null_text: NullTextSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    step_callback: Callable[[int, int, torch.Tensor], None] | None = None,
    autoencoder_phase: Callable[[str], AbstractContextManager] | None = None,
) -> Inversion:
    """Invert `image` with `prompt`; see the module docstring for what `guidance_scale` means per method.

    `guidance_scale` defaults to 1 for "ddim", "exact" and "negative-prompt", and to 7.5 (the paper's)
    for "null-text", which has nothing to optimise at guidance 1 and refuses it.

    On FLUX see `inversion.flow.invert_flow` (exact and plain only; guidance is the distilled embedding).

    `pipe` is a loaded diffusers pipeline or a backbone. A PIL image is snapped down to the
    autoencoder's grid (a multiple of 8 pixels on real models); a tensor is taken as (1, 3, H, W)
    pixels in [-1, 1]. `progress(done, total)` is called once per completed step, and
    `step_callback(done, total, latent)` with the latent reached (it may raise to stop the inversion).
    `autoencoder_phase(name)`, a context manager factory, times the autoencoder's encoding apart.
    """
    from freecure_edit.backbones import backbone_for

    if method not in METHODS:
        raise ConfigurationError(
            f"unknown inversion method {method!r}; use one of {', '.join(METHODS)}"
        )
    backbone = pipe if hasattr(pipe, "denoise") else backbone_for(pipe)
    if backbone.kind == "flux":
        from freecure_edit.inversion.flow import invert_flow

        return invert_flow(backbone, image, prompt, num_inference_steps, guidance_scale, method, progress=progress,
                           step_callback=step_callback, autoencoder_phase=autoencoder_phase)
    if guidance_scale is None:
        guidance_scale = DEFAULT_NULL_TEXT_GUIDANCE if method == "null-text" else 1.0
    if method == "null-text" and guidance_scale <= 1.0:
        raise ConfigurationError("null-text inversion needs a target guidance above 1 (the paper uses 7.5)")
    pixels = backbone.image_to_tensor(image) if isinstance(image, PIL.Image.Image) else image
    image_size = (pixels.shape[-1], pixels.shape[-2])
    schedule = backbone.schedule(num_inference_steps)
    pair = backbone.encode_prompt(prompt, negative_prompt, image_size=image_size)
    with (autoencoder_phase or _no_phase)("autoencoder"):
        z0 = backbone.encode_image(pixels)

    total_steps = num_inference_steps * (2 if method == "null-text" else 1)

    def report_step(done: int, z: torch.Tensor) -> None:
        if progress is not None:
            progress(done, total_steps)
        if step_callback is not None:
            step_callback(done, total_steps, z)

    sampling_guidance = guidance_scale if method == "exact" else 1.0
    inverted = ddim_invert(
        backbone, z0, pair, schedule, 1.0, callback=lambda i, z: report_step(i + 1, z),
        sampling_guidance=sampling_guidance,
    )
    trajectory = inverted.latents
    common = dict(
        backbone=backbone,
        schedule=schedule,
        prompt_pair=pair,
        latents=trajectory,
        image_size=image_size,
    )

    if method == "ddim":
        return Inversion(**common, guidance_scale=guidance_scale)
    if method == "negative-prompt":
        return NegativePromptInversion(**common, guidance_scale=guidance_scale)
    if method == "exact":
        inversion = ExactInversion(**common, guidance_scale=guidance_scale)
        for i, noise in enumerate(inverted.level_noise):
            if noise is not None:
                inversion.store_anchor(pair, guidance_scale, i, noise)
        inversion.prepare_sampling(pair, guidance_scale)
        return inversion

    embeddings, null_report = optimise_null_embeddings(
        backbone, trajectory, pair, schedule, guidance_scale,
        null_text or NullTextSettings(), step_callback=lambda done, z: report_step(num_inference_steps + done, z),
    )
    return NullTextInversion(
        **common, guidance_scale=guidance_scale, null_embeddings=embeddings, report=null_report
    )
