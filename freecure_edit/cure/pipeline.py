"""The cure of one image at the working size, in the method's numbered steps (DESIGN.md section 2).

`FreeCure` (api.py) loads the models, resizes the photo, caches inversions and pastes the result back;
this module is the method itself:

1. invert the photo with the template prompt (the photo branch, PD, is its trajectory), and parse it;
2. run the foundation branch (FD) from the same z_T with the full prompt, recording its self-attention
   keys and values and the cross-attention of the attribute tokens; inside the photo's own attribute
   region it gives up the exact front end's corrections (`corrections.py`); it may share the photo's
   trajectory for its first steps, or start from fresh noise instead (`foundation.py`);
3. parse the FD image and build the attribute masks from both parses (or one: `mask_source`);
4. sample PD again with FASA: its conditional queries also see FD's keys inside the mask (or, with
   method "rofa", blend its noise toward FD's inside the SAME mask);
5. asymmetric prompt guidance (APG) for abstract attributes;
6. decode.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import PIL.Image
import torch

from freecure_edit.attention import AttentionController, default_fasa_layers, default_omega
from freecure_edit.backbones.base import PromptPair
from freecure_edit.cure.callbacks import CureCallbacks, MaskContext, StepInfo, raise_if_cancelled
from freecure_edit.cure.config import CureConfig, CureStats
from freecure_edit.cure.corrections import foundation_release, photo_release
from freecure_edit.cure.foundation import foundation_start, foundation_warnings
from freecure_edit.inversion import ExactInversion, Inversion
from freecure_edit.inversion.base import ddim_invert
from freecure_edit.masks import AttributeMasks, build_attribute_masks, resize_mask
from freecure_edit.cure.pass_plan import fasa_steps as fasa_steps_of
from freecure_edit.cure.pass_plan import fd_blend_steps, photo_pass_plan, rofa_start_step
from freecure_edit.prompts import ParsedPrompt, token_indices
from freecure_edit.cure.refine import attention_placed, refine_masks
from freecure_edit.cure.rofa import blend_noise, same_masks

Progress = Callable[[str, int, int], None]


@dataclass
class CureRun:
    """What one run of the method produced, at the working size."""

    image: PIL.Image.Image
    reconstruction: "LazyReconstruction"
    fd_image: PIL.Image.Image | None
    masks: AttributeMasks | None
    photo_parse: dict[str, torch.Tensor] | None
    cross_attention: dict[str, torch.Tensor] = field(default_factory=dict)
    mask_sources: dict[str, str] = field(default_factory=dict)
    ran_apg: bool = False
    warnings: list[str] = field(default_factory=list)


class PhaseClock:
    """Seconds and denoiser evaluations per phase, read off the backbone's counter.

    Phases nest: time spent in an inner phase (the autoencoder inside the inversion) is counted there
    and not again in the outer one, so the phases add up to the wall time.
    """

    def __init__(self, backbone, stats: CureStats):
        self.backbone = backbone
        self.stats = stats
        self._inner: list[list[float]] = []  # per open phase: [seconds, evaluations] of nested phases

    @contextmanager
    def phase(self, name: str):
        before = self.backbone.counter.snapshot()
        started = time.perf_counter()
        self._inner.append([0.0, 0])
        try:
            yield
        finally:
            nested_seconds, nested_evaluations = self._inner.pop()
            used = self.backbone.counter.since(before)
            elapsed = time.perf_counter() - started
            stats = self.stats
            stats.seconds[name] = stats.seconds.get(name, 0.0) + elapsed - nested_seconds
            stats.evaluations[name] = stats.evaluations.get(name, 0) + used.evaluations - nested_evaluations
            if self._inner:
                self._inner[-1][0] += elapsed
                self._inner[-1][1] += used.evaluations
            else:
                stats.backward_passes += used.backward_passes


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
    cancel=None,
) -> CureRun:
    """Cure `photo` (already at the working size, already inverted as `inversion`); `refiner` is the
    SamRefiner that `refine="sam"` needs. `frame` is (photo-to-working affine or None for a resize,
    the full photo's size), for masks the caller paints on the full photo. `cancel` (an Event or a
    callable) is looked at after every denoising step and between phases (CureCancelled)."""
    report = Reporter(progress, callbacks, cancel)
    config = config.with_model_defaults(backbone.model_defaults)  # a no-op for FreeCure's resolved configs
    pd_guidance = config.photo_guidance
    pd_pair = inversion.prompt_pair
    fd_prompt, fd_negative = foundation_prompt(parsed)
    fd_pair = inversion.encode(fd_prompt, fd_negative)
    latent_size = tuple(inversion.zT.shape[-2:])
    controller, default = _attention_controller(backbone, config, latent_size)
    omega = default if config.omega is None else config.omega
    fasa_steps = fasa_steps_of(config) if config.method == "fasa" else set()
    warnings = front_end_warnings(config, inversion, parsed)

    # The photo's parse comes before the foundation branch, which may give up its corrections there.
    with clock.phase("parser"):
        photo_parse = parser.parse(photo)
    fd_release = foundation_release(config, inversion, parsed, photo_parse, latent_size)

    with controller.installed():
        # 2. The foundation branch, from the same noise (or fresh noise), with the full prompt.
        with clock.phase("foundation"):
            capture = _attribute_tokens(backbone, parsed, fd_prompt, with_placed_abstract=config.refine == "sam")
            fd_latent, fd_noise, fd_latents = _foundation_pass(
                inversion, controller, fd_pair, pd_pair, config, capture, fasa_steps, fd_release, report
            )
        clock.stats.fd_cache_bytes = controller.cache_bytes
        with clock.phase("autoencoder"):
            fd_image = backbone.tensor_to_image(backbone.decode(fd_latent))
        report.check()

        # 3. Where the attributes are: the photo's parse and the foundation image's (`mask_source`).
        with clock.phase("parser"):
            fd_parse = parser.parse(fd_image)
        with clock.phase("masks"):
            if config.method == "rofa":
                masks = same_masks(parsed, photo_parse, fd_parse, controller.cross_attention_maps(),
                                   (photo.size[1], photo.size[0]), source=config.mask_source)
            else:
                masks = build_attribute_masks(
                    parsed, photo_parse, fd_parse, source=config.mask_source,
                    dilation_px=config.mask_dilation_px, feather_px=config.mask_feather_px,
                )
        mask_sources = {name: "parser" for name in masks.per_attribute}
        if config.refine == "sam":
            report.check()
            with clock.phase("sam"):
                masks, mask_sources = refine_masks(
                    refiner, parsed, masks, photo, fd_image, controller.cross_attention_maps(),
                    config.mask_dilation_px, config.mask_feather_px,
                )
        if callbacks is not None and callbacks.on_masks is not None:
            replaced = masks_from_callback(callbacks.on_masks, masks, photo, frame)
            if replaced is not None:
                masks = replaced
                mask_sources = {name: "callback" for name in masks.per_attribute}
        warnings.extend(masks.warnings)
        report.check()

        # 4 and 5. The photo branch with FASA, and APG by branching off it for the last gamma of steps.
        # Strength 0 lets no FD key in at all; up to 1 it mixes FASA's attention output with the plain one
        # (FD's share of the attention times s); above 1 it multiplies FD's key weight (omega + log s).
        cure_mask = masks.union if config.strength > 0 else torch.zeros_like(masks.union)
        plan = photo_pass_plan(config, parsed, isinstance(inversion, ExactInversion),
                               mask_empty=not bool(cure_mask.max() > 0))
        branch_from, apg_steps = plan.branch_from, plan.apg_steps
        with clock.phase("fasa" if config.method == "fasa" else "rofa"):
            if config.method == "fasa":
                if fasa_steps:
                    controller.inject(
                        pd_cond_rows=[_cond_row(backbone, pd_guidance)],
                        mask=cure_mask,
                        omega=omega + math.log(max(config.strength, 1.0)),
                        steps=fasa_steps,
                        mix=config.fasa_mix,
                    )
                else:
                    controller.passthrough()
                blend = None
            else:
                controller.passthrough()
                latent_mask = resize_mask(cure_mask, *latent_size).to(inversion.zT.device)
                weight = min(1.0, config.rofa_weight * config.strength)
                rofa_from = rofa_start_step(config)
                blend = Blend(fd_noise, latent_mask, weight, rofa_from)
            release = photo_release(config, inversion, cure_mask, latent_size)
            latent_blend = LatentBlend.of(config, fd_latents, cure_mask, latent_size, inversion.zT)
            z = _photo_pass(inversion, controller, pd_pair, fd_pair, config, plan.first, branch_from, blend,
                            release, report, latent_blend)
            # FD's keys and values are not read again: free them before APG and the decode.
            controller.release_cache()
            fd_noise.clear()
            fd_latents.clear()

        if apg_steps and config.apg == "reinvert":
            report.check()
            controller.passthrough()
            with clock.phase("apg"):
                z = _reinvert_apg(inversion, z, pd_pair, fd_pair, config.guidance, apg_steps, report)

    # 6. Decode.
    report.check()
    with clock.phase("autoencoder"):
        image = backbone.tensor_to_image(backbone.decode(z))
    return CureRun(
        image=image,
        reconstruction=LazyReconstruction(backbone, inversion),
        fd_image=fd_image,
        masks=masks,
        photo_parse=photo_parse,
        cross_attention=controller.cross_attention_maps(),
        mask_sources=mask_sources,
        ran_apg=apg_steps > 0,
        warnings=warnings,
    )


@dataclass
class Blend:
    """ROFA's pull of the photo branch's noise toward the foundation's: per-step foundation noise, the
    latent-grid mask, the weight (already times strength) and the first step it acts at."""

    foundation_noise: list[torch.Tensor]
    mask: torch.Tensor
    weight: float
    start: int


@dataclass
class LatentBlend:
    """`fd_blend`: before each of the photo branch's first `steps` steps, its latent inside `mask` (the
    latent grid's cure mask times a per-step weight from the strength, 1 at strength 1) becomes the
    foundation branch's latent at that step, `foundation[i]`."""

    foundation: list[torch.Tensor]
    mask: torch.Tensor
    steps: int

    @classmethod
    def of(cls, config: CureConfig, fd_latents, cure_mask, latent_size, like) -> "LatentBlend | None":
        steps = fd_blend_steps(config)
        if steps == 0 or not fd_latents or not bool(cure_mask.max() > 0):
            return None
        # The strength s (up to 1) is the share of the foundation's latent that the blended steps build up
        # together: a blend of w at each of k steps leaves (1 - w)^k of the photo's, so w = 1 - (1 - s)^(1/k).
        # A per-step w = s would compound (0.1 over 15 steps already puts in 79%), and the strength would
        # stop being a continuous dial.
        weight = 1.0 - (1.0 - min(1.0, config.strength)) ** (1.0 / steps)
        mask = (weight * resize_mask(cure_mask, *latent_size)).to(device=like.device, dtype=like.dtype)[None, None]
        return cls(fd_latents, mask, steps)

    def apply(self, i: int, z: torch.Tensor) -> torch.Tensor:
        if i >= self.steps:
            return z
        return self.mask * self.foundation[i] + (1.0 - self.mask) * z


def _photo_pass(inversion, controller, pd_pair, fd_pair, config, first, branch_from, blend, release, report,
                latent_blend: LatentBlend | None = None):
    """Sample the photo branch from step `first` with its corrections, under what the controller injects.

    Before `first` nothing acts, so the exact front end's trajectory is the pass itself and starts it.
    From step `branch_from` on it samples with the full prompt (APG by branching), against a removal's
    negative prompt as the foundation branch does (FLUX: true CFG, whose batch is [negative, prompt], so
    FASA moves to row 1 there). With `blend`, ROFA pulls its noise toward the foundation's; `release`
    takes that share of the corrections away (see `photo_release`); `latent_blend` puts the foundation's
    latent in inside the mask at its first steps (`fd_blend`).
    """
    steps, guidance = config.steps, config.photo_guidance
    true_cfg = flux_true_cfg(inversion.backbone, config, fd_pair)
    z = inversion.latents[first] if first > 0 else inversion.zT
    for i in range(first, steps):
        controller.step = i
        if latent_blend is not None:
            z = latent_blend.apply(i, z)
        branched = i >= branch_from
        pair = fd_pair if branched else pd_pair
        if branched and true_cfg:
            controller.move_pd_rows([1])
        noise = inversion.predict_noise(i, z, pair, guidance, own_negative=branched and _has_negative(pair),
                                        true_cfg=true_cfg if branched else None)
        if blend is not None and i >= blend.start and blend.weight > 0:
            noise = blend_noise(noise, blend.foundation_noise[i], blend.mask, blend.weight)
        z = inversion.next_latent(i, z, noise, pd_pair, guidance, release=release)
        if branched:
            report("apg", i - branch_from + 1, steps - branch_from, z)
        else:
            report(config.method, i + 1, branch_from, z)
    return z


def _foundation_pass(inversion, controller, fd_pair, pd_pair, config, capture, fasa_steps, release, report):
    """Denoise from z_T (or fresh noise) with the full prompt; with `fd_corrections`, along the photo's
    trajectory, except for the share `release` of the corrections (see `foundation_release`). For its
    first `fd_start` of the steps its latent is the photo's own (`foundation.py`).

    Keys and values are kept only at `fasa_steps`, the steps FASA will read. Returns the final latent,
    the guided noise of every step (ROFA blends it into the photo branch) and the latent each of the
    first `fd_blend` steps started from (the photo branch takes them inside the mask).
    """
    steps = config.steps
    start = foundation_start(config, inversion)
    true_cfg = flux_true_cfg(inversion.backbone, config, fd_pair)
    controller.record(
        # With true CFG, FLUX's FD batch is [negative, prompt], as SD's guided one is [uncond, cond].
        fd_cond_row=1 if true_cfg else _cond_row(inversion.backbone, config.guidance),
        capture_tokens=capture or None,
        cache_keys_values=config.method == "fasa",
        steps=fasa_steps,
    )
    own_negative = _has_negative(fd_pair)
    z = start.latent_at(0, start.initial, inversion)
    noises, latents = [], []
    blended_steps = fd_blend_steps(config)
    for i in range(steps):
        controller.step = i
        if i < blended_steps:
            latents.append(z)
        noise = inversion.predict_noise(i, z, fd_pair, config.guidance, own_negative=own_negative, true_cfg=true_cfg)
        if config.method == "rofa":
            noises.append(noise)
        if start.corrections:
            z = inversion.next_latent(i, z, noise, pd_pair, config.photo_guidance, release=release)
        else:
            z = inversion.schedule.step(z, noise, i)
        # Up to step k (fd_start) the photo's own latent replaces the step just taken.
        z = start.latent_at(i + 1, z, inversion)
        report("foundation", i + 1, steps, z)
    return z, noises, latents


def _has_negative(pair: PromptPair) -> bool:
    return bool(pair.negative_prompt)


def flux_true_cfg(backbone, config: CureConfig, fd_pair: PromptPair) -> float | None:
    """The true-CFG scale of FLUX's foundation branch: set when it has a negative prompt (a removal)
    and `true_cfg` is above 1; None everywhere else (SD and SDXL guide with CFG anyway)."""
    if backbone.kind != "flux" or not _has_negative(fd_pair) or config.true_cfg is None or config.true_cfg <= 1.0:
        return None
    return config.true_cfg


def foundation_prompt(parsed: ParsedPrompt) -> tuple[str, str]:
    """The foundation branch's prompt and negative prompt.

    A removal ("a man without glasses") is said to CLIP as the template for the prompt and the removed
    things for the negative prompt: CLIP reads "without glasses" as glasses. Attributes that are kept
    follow the template ("a man, black hair"). Without removals the user's prompt is used as written.
    """
    if not parsed.removals:
        return parsed.prompt, ""
    kept = [attribute.text for attribute in parsed.attributes if not attribute.remove]
    return ", ".join([parsed.template, *kept]), parsed.negative_prompt


def front_end_warnings(config: CureConfig, inversion: Inversion, parsed: ParsedPrompt) -> list[str]:
    """What this combination of settings cannot do, said once rather than dropped silently."""
    warnings = []
    fresh = config.fd_noise == "fresh"  # its own warning says what it does without the corrections
    if config.fd_corrections and not isinstance(inversion, ExactInversion) and not fresh:
        warnings.append(
            f"fd_corrections needs the exact inversion; with inversion {config.inversion!r} the foundation "
            "branch runs without corrections, so its layout may drift from the photo's"
        )
    exact = isinstance(inversion, ExactInversion)
    # Left to their defaults (None) they act only where they can, so only a value the user set warns.
    if config.mask_corrections is not None and config.mask_corrections < 1.0 and not exact:
        warnings.append(
            f"mask_corrections needs the exact inversion; with inversion {config.inversion!r} the photo "
            "branch has no corrections to give up, so the setting changes nothing"
        )
    if (config.fd_mask_corrections is not None and config.fd_mask_corrections < 1.0
            and not (config.fd_corrections and exact and not fresh)):
        warnings.append(
            "fd_mask_corrections needs fd_corrections, the exact inversion and fd_noise 'inverted': without "
            "them the foundation branch has no corrections to give up, so the setting changes nothing"
        )
    warnings.extend(foundation_warnings(config, inversion))
    if parsed.removals and inversion.backbone.kind == "flux":
        if config.true_cfg is None or config.true_cfg <= 1.0:
            warnings.append(
                f"removing {parsed.negative_prompt!r} works on FLUX through true classifier-free guidance "
                "against the negative prompt, which true_cfg 1 turns off: the removal does nothing"
            )
    elif parsed.removals and config.guidance == 1.0:
        warnings.append(
            f"removing {parsed.negative_prompt!r} works through the foundation branch's negative prompt, "
            "which guidance 1 ignores; use a guidance above 1"
        )
    if config.method == "rofa" and rofa_start_step(config) >= config.steps:
        warnings.append(f"rofa_start {config.rofa_start} leaves no step to blend: ROFA changes nothing")
    return warnings


class LazyReconstruction:
    """The photo through the autoencoder (the exact front end's reconstruction), decoded only when
    someone looks: a whole decode is a third of a cure's fixed cost at few steps."""

    def __init__(self, backbone, inversion: Inversion):
        self._backbone = backbone
        self._latent = inversion.z0 if isinstance(inversion, ExactInversion) else None
        self._image: PIL.Image.Image | None = None

    @property
    def available(self) -> bool:
        return self._latent is not None

    def image(self) -> PIL.Image.Image | None:
        if self._image is None and self._latent is not None:
            with torch.no_grad():
                self._image = self._backbone.tensor_to_image(self._backbone.decode(self._latent))
        return self._image


def _reinvert_apg(inversion, z_cured, pd_pair: PromptPair, fd_pair: PromptPair, guidance, count, report):
    """The paper's APG: DDIM-invert the cured latent with the template to level gamma, then denoise it
    with the full prompt. Plain DDIM both ways (3 gamma N evaluations), so it drifts as DDIM does."""
    backbone, schedule = inversion.backbone, inversion.schedule
    steps = schedule.num_steps
    partial = ddim_invert(backbone, z_cured, pd_pair, schedule, 1.0, num_levels=count,
                          callback=lambda done, z: report("apg", done + 1, 2 * count, z))
    z = partial.latents[0]
    for i in range(steps - count, steps):
        noise = inversion.predict_noise(i, z, fd_pair, guidance, own_negative=_has_negative(fd_pair))
        z = schedule.step(z, noise, i)
        report("apg", count + i - (steps - count) + 1, 2 * count, z)
    return z


def _attribute_tokens(backbone, parsed: ParsedPrompt, fd_prompt: str, with_placed_abstract: bool
                      ) -> dict[str, list[int]]:
    """Token indices in the foundation's prompt of the attributes whose cross-attention is recorded."""
    tokenizer = backbone.attention_tokenizer
    tokens = {}
    wanted = [a for a in parsed.attributes if a.is_spatial or (with_placed_abstract and attention_placed(a))]
    as_written = fd_prompt == parsed.prompt
    for attribute in wanted:
        if attribute.remove and not as_written:
            continue  # a removed thing is in the negative prompt only
        indices = token_indices(tokenizer, fd_prompt, attribute if as_written else attribute.text,
                                getattr(backbone, "max_sequence_length", None))
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
    """Tells the progress display and the step callback that a sampling step is done, then looks at the
    cancel flag: a cancelled cure stops after the step in hand."""

    def __init__(self, progress: Progress | None, callbacks: CureCallbacks | None, cancel=None):
        self.progress = progress
        self.on_step = None if callbacks is None else callbacks.on_step
        self.cancel = cancel

    def __call__(self, phase: str, done: int, total: int, latents: torch.Tensor) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)
        if self.on_step is not None:
            self.on_step(StepInfo(phase, done, total, latents))
        self.check()

    def inversion_step(self, done: int, total: int, latents: torch.Tensor) -> None:
        self("inversion", done, total, latents)

    def check(self) -> None:
        raise_if_cancelled(self.cancel)


def masks_from_callback(on_masks, masks: AttributeMasks, photo, frame) -> AttributeMasks | None:
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
    # The parser's warnings ("the mask of 'hair' is empty") were about masks that are no longer used.
    warnings = []
    if float(union.max()) <= 0:
        warnings.append("the masks from on_masks are empty: nothing is cured")
    return AttributeMasks(per_attribute=checked, union=union, warnings=warnings)
