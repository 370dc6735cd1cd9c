"""The inversion object: a photo's latent trajectory and what its method needs to regenerate it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import PIL.Image
import torch

from freecure_edit.backbones.base import PromptPair, combine_guidance, guided_rows
from freecure_edit.inversion.schedule import DDIMSchedule

StepCallback = Callable[[int, torch.Tensor], None]


@dataclass
class Reconstruction:
    """The latents a sampling pass visited, in sampling order, and the decoded result."""

    latents: list[torch.Tensor]
    image: PIL.Image.Image | None

    @property
    def z0(self) -> torch.Tensor:
        return self.latents[-1]


class Inversion:
    """A photo's latent trajectory `latents[0]` (z_T) ... `latents[N]` (z_0), and how to sample it back.

    Subclasses decide two things per step: which conditioning the sampler uses
    (`sampling_conditioning`) and how a noise prediction moves the latent on (`next_latent`).
    Everything else, the reconstruction loop included, is shared.
    """

    method = "ddim"

    def __init__(
        self,
        backbone,
        schedule: DDIMSchedule,
        prompt_pair: PromptPair,
        latents: list[torch.Tensor],
        image_size: tuple[int, int],
        guidance_scale: float,
    ):
        self.backbone = backbone
        self.schedule = schedule
        self.prompt_pair = prompt_pair
        self.latents = latents
        self.image_size = image_size
        self.guidance_scale = guidance_scale

    @property
    def num_steps(self) -> int:
        return self.schedule.num_steps

    @property
    def z0(self) -> torch.Tensor:
        return self.latents[-1]

    @property
    def zT(self) -> torch.Tensor:
        return self.latents[0]

    def encode(self, prompt: str | None, negative_prompt: str = "") -> PromptPair:
        """Conditioning for a prompt at this photo's size; None means the inversion's own prompt."""
        if prompt is None and negative_prompt == self.prompt_pair.negative_prompt:
            return self.prompt_pair
        text = self.prompt_pair.prompt if prompt is None else prompt
        return self.backbone.encode_prompt(text, negative_prompt, image_size=self.image_size)

    # -- what subclasses decide ---------------------------------------------------------------------

    def sampling_conditioning(self, i: int, pair: PromptPair, guidance_scale: float) -> PromptPair:
        return pair

    def next_latent(
        self,
        i: int,
        z: torch.Tensor,
        noise: torch.Tensor,
        pair: PromptPair,
        guidance_scale: float,
        release: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One sampling step from `z`; `release` matters only to methods with corrections to give up."""
        return self.schedule.step(z, noise, i)

    def prepare_sampling(self, pair: PromptPair, guidance_scale: float) -> None:
        """Work a sampling pass needs before its first step (the exact method's corrections)."""

    # -- shared -----------------------------------------------------------------------------------

    def predict_noise(
        self, i: int, z: torch.Tensor, pair: PromptPair, guidance_scale: float, own_negative: bool = False,
        true_cfg: float | None = None,
    ) -> torch.Tensor:
        """The sampler's guided noise prediction at step i (one or two evaluations).

        `own_negative` keeps the pair's negative prompt where the method would put its own
        unconditional embedding (null-text, negative-prompt): a removal's negative prompt must act.
        `true_cfg` is for guidance-distilled models (flow.py); classifier-free guidance does its work here.
        """
        conditioning = pair if own_negative else self.sampling_conditioning(i, pair, guidance_scale)
        rows = guided_rows(conditioning, guidance_scale)
        batch = z.expand(rows.rows, *z.shape[1:])
        output = self.backbone.denoise(batch, self.schedule.timesteps[i], rows)
        return combine_guidance(self.schedule.to_epsilon(output, batch, i), guidance_scale)

    def reconstruct(
        self,
        prompt: str | None = None,
        guidance_scale: float | None = None,
        *,
        negative_prompt: str = "",
        start: torch.Tensor | None = None,
        callback: StepCallback | None = None,
        decode: bool = True,
    ) -> Reconstruction:
        """Sample from z_T (or `start`) back down to z_0, with this method's corrections."""
        pair = self.encode(prompt, negative_prompt)
        guidance = self.guidance_scale if guidance_scale is None else guidance_scale
        self.prepare_sampling(pair, guidance)
        z = self.zT if start is None else start.to(self.zT)
        visited = [z]
        with torch.no_grad():
            for i in range(self.num_steps):
                noise = self.predict_noise(i, z, pair, guidance)
                z = self.next_latent(i, z, noise, pair, guidance)
                visited.append(z)
                if callback is not None:
                    callback(i, z)
        image = self.backbone.tensor_to_image(self.backbone.decode(z)) if decode else None
        return Reconstruction(visited, image)


@dataclass
class InversionPass:
    """A DDIM inversion's trajectory, and the sampler-guided noise it predicted at each level.

    `level_noise[i]` is the prediction at `latents[i]` with step i's own timestep under the sampling
    guidance: exactly what the exact method needs as step i's anchor, at no extra cost. Level 0 (z_T) is
    never evaluated by the inversion, so `level_noise[0]` is None.
    """

    latents: list[torch.Tensor]
    level_noise: list[torch.Tensor | None]


def ddim_invert(
    backbone,
    z0: torch.Tensor,
    pair: PromptPair,
    schedule: DDIMSchedule,
    guidance_scale: float = 1.0,
    callback: StepCallback | None = None,
    sampling_guidance: float | None = None,
    num_levels: int | None = None,
) -> InversionPass:
    """Run DDIM backwards from z_0 to z_T, moving by the noise `guidance_scale` predicts.

    Each latent's noise is predicted with its own level's timestep (the clean z_0, which has none, uses
    the smallest); the exact method's corrections make up for the approximation. When
    `sampling_guidance` differs from `guidance_scale`, the same batch also carries the rows needed to
    record the sampler's prediction at each level. `num_levels` stops after that many steps from the
    clean end (APG re-inverts only to gamma); the result then covers levels N - num_levels ... N.
    """
    sampling_guidance = guidance_scale if sampling_guidance is None else sampling_guidance
    both = guidance_scale != 1.0 or sampling_guidance != 1.0
    rows = guided_rows(pair, 2.0 if both else 1.0)
    z = z0
    latents = [z0]
    level_noise: list[torch.Tensor | None] = []
    num_steps = schedule.num_steps
    levels = num_steps if num_levels is None else num_levels
    with torch.no_grad():
        for step_number, i in enumerate(reversed(range(num_steps - levels, num_steps))):
            level = i + 1
            timestep_index = min(level, num_steps - 1)
            batch = z.expand(rows.rows, *z.shape[1:])
            output = backbone.denoise(batch, schedule.timesteps[timestep_index], rows)
            noise = schedule.to_epsilon(output, batch, level)
            move = _guided(noise, guidance_scale) if both else noise
            if level < num_steps:
                level_noise.append(_guided(noise, sampling_guidance) if both else noise)
            z = schedule.inverse_step(z, move, i)
            latents.append(z)
            if callback is not None:
                callback(step_number, z)
    level_noise.append(None)
    return InversionPass(latents[::-1], level_noise[::-1])


def _guided(noise_pair: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Guidance over [uncond, cond] rows; at guidance 1 the cond row itself, bit for bit."""
    if guidance_scale == 1.0:
        return noise_pair.chunk(2)[1]
    return combine_guidance(noise_pair, guidance_scale)
