"""A tiny pipeline of any family saved as a diffusers folder, to load through the real loading code."""

from __future__ import annotations

from freecure_edit.testing.flux import tiny_flux_pipeline
from freecure_edit.testing.sd import tiny_sd_pipeline, tiny_sdxl_pipeline


def save_tiny_pipeline(kind: str, folder, unet_variant: str = "random", seed: int = 0):
    """Build a tiny pipeline of `kind` ("sd", "sdxl", "flux" or "flux-schnell") and save it as a diffusers folder."""
    builders = {
        "sd": tiny_sd_pipeline,
        "sdxl": tiny_sdxl_pipeline,
        "flux": lambda unet_variant, seed: tiny_flux_pipeline("dev", unet_variant, seed),
        "flux-schnell": lambda unet_variant, seed: tiny_flux_pipeline("schnell", unet_variant, seed),
    }
    if kind not in builders:
        raise ValueError(f"unknown tiny pipeline kind {kind!r}; use one of {sorted(builders)}")
    pipe = builders[kind](unet_variant=unet_variant, seed=seed)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder
