"""The cure of one image at the working size, in the method's numbered steps (DESIGN.md section 2).

`FreeCure` (api.py) loads the models, resizes the photo, caches inversions and pastes the result back;
this module is the method itself:

1. invert the photo with the template prompt (the photo branch, PD, is its trajectory);
2. run the foundation branch (FD) from the same z_T with the full prompt, recording its self-attention
   keys and values and the cross-attention of the attribute tokens;
3. parse the photo and the FD image and build the attribute masks;
4. sample PD again with FASA: its conditional queries also see FD's keys inside the mask (or, with
   method "rofa", blend its noise toward FD's inside the SAME mask);
5. asymmetric prompt guidance (APG) for abstract attributes;
6. decode.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import PIL.Image
import torch

from freecure_edit.attention import AttentionController, default_fasa_layers, default_omega
from freecure_edit.backbones.base import PromptPair
from freecure_edit.callbacks import CureCallbacks, MaskContext, StepInfo
from freecure_edit.config import CureConfig, CureStats
from freecure_edit.inversion import ExactInversion, Inversion
from freecure_edit.inversion.base import ddim_invert
from freecure_edit.masks import AttributeMasks, build_attribute_masks, resize_mask
from freecure_edit.prompts import ParsedPrompt, token_indices
from freecure_edit.refine import attention_placed, refine_masks
from freecure_edit.rofa import blend_noise, same_masks

Progress = Callable[[str, int, int], None]


@dataclass
class CureRun:
    """What one run of the method produced, at the working size."""

    image: PIL.Image.Image
    reconstruction: PIL.Image.Image | None
    fd_image: PIL.Image.Image | None
    masks: AttributeMasks | None
    photo_parse: dict[str, torch.Tensor] | None
    cross_attention: dict[str, torch.Tensor] = field(default_factory=dict)
    mask_sources: dict[str, str] = field(default_factory=dict)
    ran_apg: bool = False
    warnings: list[str] = field(default_factory=list)


class PhaseClock:
    """Seconds and denoiser evaluations per phase, read off the backbone's counter."""

    def __init__(self, backbone, stats: CureStats):
        self.backbone = backbone
        self.stats = stats

    @contextmanager
    def phase(self, name: str):
        before = self.backbone.counter.snapshot()
        started = time.perf_counter()
        try:
            yield
        finally:
            used = self.backbone.counter.since(before)
            self.stats.seconds[name] = self.stats.seconds.get(name, 0.0) + time.perf_counter() - started
            self.stats.evaluations[name] = self.stats.evaluations.get(name, 0) + used.evaluations
            self.stats.backward_passes += used.backward_passes


@torch.no_grad()
def cure_at_working_size(
    backbone,
    parser,
    photo: PIL.Image.Image,
    parsed: ParsedPrompt,
    config: CureConfig,
    inversion: Inversion,
    clock: PhaseClock,
    progress: Progress | None = None,
    refiner=None,
    callbacks: CureCallbacks | None = None,
    frame: tuple[np.ndarray | None, tuple[int, int]] = (None, (0, 0)),
) -> CureRun:
    """Cure `photo` (already at the working size, already inverted as `inversion`); `refiner` is the
    SamRefiner that `refine="sam"` needs. `frame` is (photo-to-working affine or None for a resize,
    the full photo's size), for masks the caller paints on the full photo."""
    report = Reporter(progress, callbacks)
    steps = config.steps
    pd_guidance = config.photo_guidance
    pd_pair = inversion.prompt_pair
    fd_pair = inversion.encode(parsed.prompt, parsed.negative_prompt)
    latent_size = tuple(inversion.zT.shape[-2:])
    controller, default = _attention_controller(backbone, config, latent_size)
    omega = (default if config.omega is None else config.omega) * config.strength
    gamma = min(1.0, config.gamma * config.strength)
    warnings: list[str] = []

    with controller.installed():
        # 2. The foundation branch, from the same noise, with the full prompt.
        with clock.phase("foundation"):
            capture = _attribute_tokens(backbone, parsed, with_placed_abstract=config.refine == "sam")
            fd_latent, fd_noise = _foundation_pass(
                inversion, controller, fd_pair, pd_pair, config, capture, report
            )
            fd_image = backbone.tensor_to_image(backbone.decode(fd_latent))
        clock.stats.fd_cache_bytes = controller.cache_bytes

        # 3. Where the attributes are: the photo's parse and the foundation image's.
        with clock.phase("masks"):
            photo_parse = parser.parse(photo)
            fd_parse = parser.parse(fd_image)
            if config.method == "rofa":
                masks = same_masks(parsed, photo_parse, fd_parse, controller.cross_attention_maps(),
                                   (photo.size[1], photo.size[0]))
            else:
                masks = build_attribute_masks(
                    parsed, photo_parse, fd_parse,
                    dilation_px=config.mask_dilation_px, feather_px=config.mask_feather_px,
                )
        mask_sources = {name: "parser" for name in masks.per_attribute}
        if config.refine == "sam":
            with clock.phase("sam"):
                masks, mask_sources = refine_masks(
                    refiner, parsed, masks, photo, fd_image, controller.cross_attention_maps(),
                    config.mask_dilation_px, config.mask_feather_px,
                )
        if callbacks is not None and callbacks.on_masks is not None:
            replaced = _masks_from_callback(callbacks.on_masks, masks, photo, frame)
            if replaced is not None:
                masks = replaced
                mask_sources = {name: "callback" for name in masks.per_attribute}
        warnings.extend(masks.warnings)

        # 4 and 5. The photo branch with FASA, and APG by branching off it for the last gamma of steps.
        apg_steps = _apg_step_count(parsed, gamma, steps)
        branch_from = steps - apg_steps if config.apg == "branch" else steps
        # Strength 0 means no cure at all, not FASA at omega 0 (which still lets FD's keys in).
        cure_mask = masks.union if config.strength > 0 else torch.zeros_like(masks.union)
        with clock.phase("fasa" if config.method == "fasa" else "rofa"):
            if config.method == "fasa":
                controller.inject(
                    pd_cond_rows=[_cond_row(backbone, pd_guidance)],
                    mask=cure_mask,
                    omega=omega,
                    steps=_fasa_steps(config, steps),
                )
                blend = None
            else:
                controller.passthrough()
                latent_mask = resize_mask(cure_mask, *latent_size).to(inversion.zT.device)
                blend = (fd_noise, latent_mask)
            z = _photo_pass(inversion, controller, pd_pair, fd_pair, config, branch_from, blend, report)

        if apg_steps and config.apg == "reinvert":
            controller.passthrough()
            with clock.phase("apg"):
                z = _reinvert_apg(inversion, z, pd_pair, fd_pair, config.guidance, apg_steps, report)

    # 6. Decode.
    with clock.phase("decode"):
        image = backbone.tensor_to_image(backbone.decode(z))
        reconstruction = (
            backbone.tensor_to_image(backbone.decode(inversion.z0))
            if isinstance(inversion, ExactInversion)
            else None
        )
    return CureRun(
        image=image,
        reconstruction=reconstruction,
        fd_image=fd_image,
        masks=masks,
        photo_parse=photo_parse,
        cross_attention=controller.cross_attention_maps(),
        mask_sources=mask_sources,
        ran_apg=apg_steps > 0,
        warnings=warnings,
    )


def _photo_pass(inversion, controller, pd_pair, fd_pair, config, branch_from, blend, report):
    """Sample the photo branch from z_T with its corrections, under whatever the controller injects.

    From step `branch_from` on it samples with the full prompt (APG by branching). With `blend` =
    (foundation noise per step, latent mask), ROFA pulls its noise toward the foundation's.
    """
    steps, guidance = config.steps, config.photo_guidance
    z = inversion.zT
    for i in range(steps):
        controller.step = i
        pair = fd_pair if i >= branch_from else pd_pair
        noise = inversion.predict_noise(i, z, pair, guidance)
        if blend is not None and i >= config.rofa_start_step:
            foundation_noise, latent_mask = blend
            noise = blend_noise(noise, foundation_noise[i], latent_mask, config.rofa_weight)
        z = inversion.next_latent(i, z, noise, pd_pair, guidance)
        report(config.method, i + 1, steps, z)
    return z


def _foundation_pass(inversion, controller, fd_pair, pd_pair, config, capture, report):
    """Denoise from z_T with the full prompt; with `fd_corrections`, along the photo's trajectory.

    Returns the final latent and the guided noise of every step (ROFA blends it into the photo branch).
    """
    steps = config.steps
    use_corrections = config.fd_corrections and isinstance(inversion, ExactInversion)
    controller.record(
        fd_cond_row=_cond_row(inversion.backbone, config.guidance),
        capture_tokens=capture or None,
        cache_keys_values=config.method == "fasa",
    )
    z = inversion.zT
    noises = []
    for i in range(steps):
        controller.step = i
        noise = inversion.predict_noise(i, z, fd_pair, config.guidance)
        noises.append(noise)
        if use_corrections:
            z = inversion.next_latent(i, z, noise, pd_pair, config.photo_guidance)
        else:
            z = inversion.schedule.step(z, noise, i)
        report("foundation", i + 1, steps, z)
    return z, noises


def _reinvert_apg(inversion, z_cured, pd_pair: PromptPair, fd_pair: PromptPair, guidance, count, report):
    """The paper's APG: DDIM-invert the cured latent with the template to level gamma, then denoise it
    with the full prompt. Plain DDIM both ways (3 gamma N evaluations), so it drifts as DDIM does."""
    backbone, schedule = inversion.backbone, inversion.schedule
    steps = schedule.num_steps
    partial = ddim_invert(backbone, z_cured, pd_pair, schedule, 1.0, num_levels=count)
    z = partial.latents[0]
    for i in range(steps - count, steps):
        noise = inversion.predict_noise(i, z, fd_pair, guidance)
        z = schedule.step(z, noise, i)
        report("apg", i - (steps - count) + 1, count, z)
    return z


def _apg_step_count(parsed: ParsedPrompt, gamma: float, steps: int) -> int:
    if not parsed.abstract:
        return 0
    return int(round(gamma * steps))


def _fasa_steps(config: CureConfig, steps: int) -> set[int]:
    start, end = config.fasa_steps
    return {i for i in range(steps) if start * steps <= i < end * steps}


def _attribute_tokens(backbone, parsed: ParsedPrompt, with_placed_abstract: bool) -> dict[str, list[int]]:
    tokenizer = backbone.attention_tokenizer
    tokens = {}
    wanted = [a for a in parsed.attributes if a.is_spatial or (with_placed_abstract and attention_placed(a))]
    for attribute in wanted:
        indices = token_indices(tokenizer, parsed.prompt, attribute)
        if indices:
            tokens[attribute.name] = indices
    return tokens


def _attention_controller(backbone, config: CureConfig, latent_size):
    """The attention controller for this backbone, and the model's default omega."""
    if backbone.kind == "flux":
        from freecure_edit.attention.flux_controller import flux_controller_for

        return flux_controller_for(backbone, config, latent_size, _cache_device(backbone, config))
    unet = backbone.unet
    layers = list(config.fasa_layers) if config.fasa_layers else default_fasa_layers(unet)
    controller = AttentionController(
        unet, fasa_layers=layers, latent_size=latent_size, cache_device=_cache_device(backbone, config)
    )
    return controller, default_omega(unet)


def _cond_row(backbone, guidance: float) -> int:
    """The conditional row of a guided prediction: [uncond, cond] with CFG; FLUX has one row."""
    return 1 if backbone.uses_guidance and guidance != 1.0 else 0


def _cache_device(backbone, config: CureConfig):
    if config.fd_cache_device is not None:
        return config.fd_cache_device
    # SDXL's cache is ~140 MB per step at 1024 px in fp16, FLUX's ~50 MB per block and step: on a GPU
    # it waits on the CPU instead.
    if backbone.kind in ("sdxl", "flux") and backbone.device.type == "cuda":
        return "cpu"
    return None


class Reporter:
    """Tells the progress display and the step callback that a sampling step is done."""

    def __init__(self, progress: Progress | None, callbacks: CureCallbacks | None):
        self.progress = progress
        self.on_step = None if callbacks is None else callbacks.on_step

    def __call__(self, phase: str, done: int, total: int, latents: torch.Tensor) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)
        if self.on_step is not None:
            self.on_step(StepInfo(phase, done, total, latents))


def _masks_from_callback(on_masks, masks: AttributeMasks, photo, frame) -> AttributeMasks | None:
    """The masks the user's callback returns, checked, with the union rebuilt when it gave none; None
    when it kept the cure's own."""
    matrix, photo_size = frame
    offered = {**{name: mask.clone() for name, mask in masks.per_attribute.items()}, "union": masks.union.clone()}
    context = MaskContext(offered, photo, matrix, photo_size or photo.size)
    chosen = on_masks(context)
    if chosen is None:
        return None
    shape = tuple(masks.union.shape)
    checked = {}
    for name, mask in chosen.items():
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if tuple(mask.shape) != shape:
            raise ValueError(f"the mask {name!r} from on_masks is {tuple(mask.shape)}, the cure's are {shape}")
        checked[name] = mask.clamp(0, 1)
    union = checked.pop("union", None)
    if union is None:
        union = torch.zeros(shape)
        for mask in checked.values():
            union = torch.maximum(union, mask)
    return AttributeMasks(per_attribute=checked, union=union, warnings=list(masks.warnings))
