"""FreeCure inside a face-personalization model (IP-Adapter FaceID), in the paper's own steps.

The photo cure (cure/pipeline.py) gets its personalized branch from an inverted photo; here it is a
generation, and that is the only difference:

1. one latent z_T. The personalized branch PD is the adapter with the identity embedding and the user's
   prompt; the foundation branch FD is the same model, LoRA on, with a zero embedding (how the adapter was
   trained to drop the identity) and the full prompt (a removal's words as its negative prompt);
2. the first pass runs PD and FD in one batch from z_T, [PD uncond, PD cond, FD uncond, FD cond], while
   FD's conditional self-attention keys and values are kept at the FASA layers and steps; PD alone (the
   uncured image) and FD are decoded;
3. the parser reads FD's image (and PD's): the attribute masks, from FD's parse by default as the
   authors do (`mask_source`);
4. PD again from the same z_T with FASA: its conditional queries also see FD's cached keys in the mask;
5. APG for abstract attributes: DDIM-invert the cured latent with the template (identity on) back to
   gamma, then denoise with the full prompt, as the paper does;
6. decode.
FASA runs on the self-attention processors only: the adapter's cross-attention processors, which carry
the identity, stay in place throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import PIL.Image
import torch

from freecure_edit.attention import AttentionController, default_fasa_layers, default_omega
from freecure_edit.backbones.base import Conditioning, PromptPair, combine_guidance, guided_rows, with_identity
from freecure_edit.cure.config import CureConfig
from freecure_edit.cure.pass_plan import apg_step_count, fasa_steps as fasa_steps_of
from freecure_edit.cure.pipeline import PhaseClock, Reporter, foundation_prompt, masks_from_callback
from freecure_edit.inversion.base import ddim_invert
from freecure_edit.masks import AttributeMasks, build_attribute_masks
from freecure_edit.prompts import ParsedPrompt


@dataclass
class GenerationRun:
    """What one generation produced: the cured image, PD alone, FD, and the masks."""

    image: PIL.Image.Image
    pd_image: PIL.Image.Image
    fd_image: PIL.Image.Image
    masks: AttributeMasks
    ran_apg: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Branches:
    """The two branches' prompt pairs, each row carrying its identity embedding, and their guidance."""

    pd: PromptPair
    fd: PromptPair
    pd_guidance: float
    fd_guidance: float
    features: tuple | None = None  # FaceID Plus's reference features (cond, uncond), on PD's rows


def branches_for(backbone, parsed: ParsedPrompt, identity: torch.Tensor, config: CureConfig,
                 size: tuple[int, int], features=None) -> Branches:
    """PD: the user's prompt with the identity on its conditional row and zeros on the unconditional one,
    as diffusers' own FaceID call guides. FD: the foundation prompt with zeros on both. With FaceID Plus's
    reference `features` (cond, uncond), PD's rows get them as diffusers gives them, and FD the
    unconditional ones on both rows: the reference's image carries the identity (and its hair) too."""
    embedding, zero = _embeddings(backbone, identity)
    pd = with_identity(backbone.encode_prompt(parsed.prompt, "", image_size=size), embedding, zero, features)
    fd_prompt, fd_negative = foundation_prompt(parsed)
    fd_features = None if features is None else (features[1], features[1])
    fd = with_identity(backbone.encode_prompt(fd_prompt, fd_negative, image_size=size), zero, zero, fd_features)
    return Branches(pd, fd, config.photo_guidance, config.guidance, features)


def _embeddings(backbone, identity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    embedding = identity.reshape(1, 1, -1).to(backbone.device)
    return embedding, torch.zeros_like(embedding)


def guided_noise(backbone, schedule, i: int, z: torch.Tensor, pair: PromptPair, guidance: float) -> torch.Tensor:
    """One branch's guided noise prediction at step i."""
    rows = guided_rows(pair, guidance)
    batch = z.expand(rows.rows, *z.shape[1:])
    output = backbone.denoise(batch, schedule.timesteps[i], rows)
    return combine_guidance(schedule.to_epsilon(output, batch, i), guidance)


@torch.no_grad()
def generate_at_size(backbone, parser, parsed: ParsedPrompt, identity: torch.Tensor, latent: torch.Tensor,
                     config: CureConfig, clock: PhaseClock, progress=None, callbacks=None, cancel=None,
                     features=None) -> GenerationRun:
    """Generate with the adapter loaded in `backbone` from `latent` (z_T, (1, C, h, w)) and cure the
    prompt's attributes; `identity` is the reference's embedding, `features` FaceID Plus's (cond, uncond)
    reference features (None for plain FaceID), `config` resolved to the model."""
    report = Reporter(progress, callbacks, cancel)
    steps = config.steps
    schedule = backbone.schedule(steps)
    size = (latent.shape[-1] * backbone.vae_scale_factor, latent.shape[-2] * backbone.vae_scale_factor)
    branches = branches_for(backbone, parsed, identity, config, size, features)
    unet = backbone.unet
    layers = list(config.fasa_layers) if config.fasa_layers else default_fasa_layers(unet)
    controller = AttentionController(unet, fasa_layers=layers, latent_size=tuple(latent.shape[-2:]),
                                     cache_device=config.fd_cache_device, self_attention_only=True)
    omega = default_omega(unet) if config.omega is None else config.omega
    fasa_steps = fasa_steps_of(config)
    warnings = []

    with controller.installed():
        # 1 and 2. PD and FD from the same z_T in one batch; FD's keys and values kept for FASA.
        with clock.phase("generation"):
            pd_latent, fd_latent = _two_branch_pass(backbone, schedule, latent, branches, controller, fasa_steps,
                                                    report)
        with clock.phase("autoencoder"):
            pd_image = backbone.tensor_to_image(backbone.decode(pd_latent))
            fd_image = backbone.tensor_to_image(backbone.decode(fd_latent))
        report.check()

        # 3. The attribute masks: FD's parse (the authors'), PD's, or both.
        with clock.phase("parser"):
            pd_parse = parser.parse(pd_image)
            fd_parse = parser.parse(fd_image)
        with clock.phase("masks"):
            masks = build_attribute_masks(parsed, pd_parse, fd_parse, source=config.mask_source,
                                          dilation_px=config.mask_dilation_px, feather_px=config.mask_feather_px)
        if callbacks is not None and callbacks.on_masks is not None:
            # The caller may replace the masks, as for a photo; they see the uncured image as the photo.
            replaced = masks_from_callback(callbacks.on_masks, masks, pd_image, (None, pd_image.size))
            masks = masks if replaced is None else replaced
        warnings.extend(masks.warnings)
        report("masks", 1, 1, fd_latent)

        # 4. PD again with FASA (FD's keys from the cache).
        cure_mask = masks.union if config.strength > 0 else torch.zeros_like(masks.union)
        with clock.phase("fasa"):
            if fasa_steps:
                controller.inject(pd_cond_rows=[_cond_row(branches.pd_guidance)], mask=cure_mask,
                                  omega=omega + math.log(max(config.strength, 1.0)), steps=fasa_steps,
                                  mix=config.fasa_mix)
            else:
                controller.passthrough()
            z = latent
            for i in range(steps):
                controller.step = i
                noise = guided_noise(backbone, schedule, i, z, branches.pd, branches.pd_guidance)
                z = schedule.step(z, noise, i)
                report("fasa-generation", i + 1, steps, z)
            controller.release_cache()

        # 5. APG, for attributes without a region.
        apg_steps = apg_step_count(parsed, min(1.0, config.gamma * config.strength), steps)
        if apg_steps:
            controller.passthrough()
            with clock.phase("apg"):
                z = _reinvert_apg(backbone, schedule, z, parsed, branches, identity, size, apg_steps, report)

    # 6. Decode.
    report.check()
    with clock.phase("autoencoder"):
        image = backbone.tensor_to_image(backbone.decode(z))
    return GenerationRun(image, pd_image, fd_image, masks, ran_apg=apg_steps > 0, warnings=warnings)


def _two_branch_pass(backbone, schedule, latent, branches: Branches, controller, fasa_steps, report):
    """PD and FD stepped together: one denoiser call per step on [PD rows, FD rows]."""
    pd_rows = guided_rows(branches.pd, branches.pd_guidance)
    fd_rows = guided_rows(branches.fd, branches.fd_guidance)
    rows = Conditioning.cat([pd_rows, fd_rows])
    controller.record(fd_cond_row=rows.rows - 1, capture_tokens=None, steps=fasa_steps)
    z_pd = z_fd = latent
    for i in range(schedule.num_steps):
        controller.step = i
        batch = torch.cat([z_pd.expand(pd_rows.rows, *latent.shape[1:]), z_fd.expand(fd_rows.rows, *latent.shape[1:])])
        output = schedule.to_epsilon(backbone.denoise(batch, schedule.timesteps[i], rows), batch, i)
        pd_noise = combine_guidance(output[: pd_rows.rows], branches.pd_guidance)
        fd_noise = combine_guidance(output[pd_rows.rows:], branches.fd_guidance)
        z_pd = schedule.step(z_pd, pd_noise, i)
        z_fd = schedule.step(z_fd, fd_noise, i)
        report("generation", i + 1, schedule.num_steps, z_fd)
    return z_pd, z_fd


def _reinvert_apg(backbone, schedule, z_cured, parsed, branches: Branches, identity, size, count, report):
    """The paper's APG on the personalized model: invert with the template to level gamma (plain DDIM at
    guidance 1, identity on), then denoise with the user's prompt as PD does."""
    embedding, zero = _embeddings(backbone, identity)
    template = with_identity(backbone.encode_prompt(parsed.template, "", image_size=size), embedding, zero,
                             branches.features)
    steps = schedule.num_steps
    partial = ddim_invert(backbone, z_cured, template, schedule, 1.0, num_levels=count,
                          callback=lambda done, z: report("apg", done + 1, 2 * count, z))
    z = partial.latents[0]
    for i in range(steps - count, steps):
        noise = guided_noise(backbone, schedule, i, z, branches.pd, branches.pd_guidance)
        z = schedule.step(z, noise, i)
        report("apg", count + i - (steps - count) + 1, 2 * count, z)
    return z


def _cond_row(guidance: float) -> int:
    return 1 if guidance != 1.0 else 0


def initial_latent(backbone, size: tuple[int, int], seed: int) -> torch.Tensor:
    """z_T for a (width, height) image: Gaussian noise drawn on the CPU in float32 from `seed`, so that a
    seed gives the same image on any device (DDIM's initial noise sigma is 1)."""
    width, height = size
    factor = backbone.vae_scale_factor
    shape = (1, backbone.unet.config.in_channels, height // factor, width // factor)
    noise = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(int(seed)), dtype=torch.float32)
    return noise.to(backbone.device)
