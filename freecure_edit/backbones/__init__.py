"""Backbones by pipeline kind: the only code that knows how a model family is called.

May import errors.py, models/ and schedules/ only: never the method or a front end.
"""

from __future__ import annotations

from freecure_edit.backbones.base import (
    Conditioning,
    DenoiserCounter,
    PromptPair,
    combine_guidance,
    guided_rows,
)

__all__ = [
    "Conditioning",
    "DenoiserCounter",
    "PromptPair",
    "backbone_for",
    "combine_guidance",
    "guided_rows",
]


def backbone_for(pipe):
    """The backbone that drives `pipe` (a Stable Diffusion 1.x/2.x, SDXL or FLUX.1 pipeline)."""
    from freecure_edit.backbones.flux import FluxBackbone
    from freecure_edit.backbones.sd import StableDiffusionBackbone
    from freecure_edit.backbones.sdxl import StableDiffusionXLBackbone
    from freecure_edit.models.loading import pipeline_kind

    backbones = {"sd": StableDiffusionBackbone, "sdxl": StableDiffusionXLBackbone, "flux": FluxBackbone}
    return backbones[pipeline_kind(pipe)](pipe)
