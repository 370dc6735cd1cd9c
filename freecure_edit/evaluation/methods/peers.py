"""Peers through diffusers, built from the loaded pipeline's components (no second copy of the model):
LEDITS++ (LEditsPPPipelineStableDiffusion / ...XL; diffusers has none for FLUX, so FLUX skips it) and
img2img (StableDiffusionImg2ImgPipeline / ...XL / FluxImg2ImgPipeline, where guidance is FLUX's embedding).

LEDITS++ edits with the attributes the prompt parser finds as its editing concepts, from an inversion
with the template prompt, at diffusers' defaults (edit guidance 5, threshold 0.9; intersect masks on
for SD, off for SDXL, as each pipeline defaults).
img2img regenerates the photo from strength 0.5 with the full prompt.
"""

from __future__ import annotations

import logging

from freecure_edit.evaluation.methods.base import (
    Method,
    MethodOutput,
    denoiser_of,
    generator_for,
    kept_attention_processors,
    measured,
)

IMG2IMG_STRENGTH = 0.5
LEDITS_SOURCE_GUIDANCE = 3.5
LEDITS_EDIT_GUIDANCE = 5.0
LEDITS_THRESHOLD = 0.9


def _pipeline_from(pipe, sd_class: str, sdxl_class: str, flux_class: str | None = None, **components):
    import diffusers

    name = sdxl_class if "XL" in type(pipe).__name__ else sd_class
    if "Flux" in type(pipe).__name__:
        name = flux_class
    # from_pipe casts each shared model with .to(dtype), which makes diffusers log "modules that should
    # be kept in float32: []" once per model even when there are none; the models are the same objects.
    modeling_log = logging.getLogger("diffusers.models.modeling_utils")
    level = modeling_log.level
    modeling_log.setLevel(logging.ERROR)
    try:
        peer = getattr(diffusers, name).from_pipe(pipe, **components)
    finally:
        modeling_log.setLevel(level)
    peer.set_progress_bar_config(disable=True)
    return peer


class Img2ImgMethod(Method):
    kind = "img2img"

    def __init__(self, spec: str, pipe, counter, steps: int, guidance: float, strength: float = IMG2IMG_STRENGTH,
                 call_options: dict | None = None):
        super().__init__(spec)
        self.pipe, self.counter = pipe, counter
        self.steps, self.guidance, self.strength = steps, guidance, strength
        self.call_options = dict(call_options or {})  # FLUX: the cure's max_sequence_length
        self._peer = None

    def run(self, photo, prompt, seed):
        if self._peer is None:
            self._peer = _pipeline_from(self.pipe, "StableDiffusionImg2ImgPipeline", "StableDiffusionXLImg2ImgPipeline",
                                        "FluxImg2ImgPipeline")
        device = self.pipe._execution_device
        with measured(self.counter, device) as cost, kept_attention_processors(denoiser_of(self.pipe)):
            image = self._peer(
                prompt=prompt, image=photo, strength=self.strength, num_inference_steps=self.steps,
                guidance_scale=self.guidance, generator=generator_for(seed, device), **self._sized(photo),
            ).images[0]
        return MethodOutput(_same_size(image, photo), cost.evaluations, cost.seconds, cost.peak_memory_bytes)

    def _sized(self, photo) -> dict:
        # FluxImg2ImgPipeline resizes to its default size unless told the photo's; SD's keeps the photo's.
        if "Flux" not in type(self._peer).__name__:
            return self.call_options
        return {**self.call_options, "height": photo.size[1], "width": photo.size[0]}


class LeditsMethod(Method):
    kind = "ledits"

    def __init__(self, spec: str, pipe, counter, steps: int):
        super().__init__(spec)
        self.pipe, self.counter, self.steps = pipe, counter, steps
        self._peer = None

    def _build(self):
        from diffusers import DPMSolverMultistepScheduler

        # The scheduler LEDITS++'s authors and diffusers' docs use; the pipeline would switch to it anyway.
        scheduler = DPMSolverMultistepScheduler.from_config(
            self.pipe.scheduler.config, algorithm_type="sde-dpmsolver++", solver_order=2
        )
        return _pipeline_from(self.pipe, "LEditsPPPipelineStableDiffusion", "LEditsPPPipelineStableDiffusionXL",
                              scheduler=scheduler)

    def run(self, photo, prompt, seed):
        from freecure_edit.prompts import parse_prompt

        parsed = parse_prompt(prompt)
        if not parsed.attributes:
            return MethodOutput(photo.copy(), warnings=["the prompt names no attribute to edit"])
        if self._peer is None:
            self._peer = self._build()
        concepts = [attribute.text for attribute in parsed.attributes]
        warnings = []
        xl = "XL" in type(self._peer).__name__
        intersect = not xl and _has_attention_at_quarter_resolution(self.pipe.unet)
        if not xl and not intersect:
            warnings.append("this UNet has no cross-attention at 1/4 of the latent size, so LEDITS++ "
                            "ran without its intersect masks")
        device = self.pipe._execution_device
        generator = generator_for(seed, device)
        with measured(self.counter, device) as cost, kept_attention_processors(self.pipe.unet):
            self._peer.invert(image=photo, source_prompt=parsed.template, source_guidance_scale=LEDITS_SOURCE_GUIDANCE,
                              num_inversion_steps=self.steps, generator=generator)
            image = self._peer(
                editing_prompt=concepts,
                reverse_editing_direction=[attribute.remove for attribute in parsed.attributes],
                edit_guidance_scale=[LEDITS_EDIT_GUIDANCE] * len(concepts),
                edit_threshold=[LEDITS_THRESHOLD] * len(concepts),
                use_intersect_mask=intersect,
                generator=generator,
            ).images[0]
        return MethodOutput(_same_size(image, photo), cost.evaluations, cost.seconds, cost.peak_memory_bytes,
                            warnings=warnings)


def _has_attention_at_quarter_resolution(unet) -> bool:
    """LEDITS++'s intersect masks read cross-attention maps at 1/4 of the latent size (down block 2)."""
    types = list(unet.config.down_block_types)
    return len(types) > 2 and "CrossAttn" in types[2]


def _same_size(image, photo):
    return image if image.size == photo.size else image.resize(photo.size)
