"""A FLUX.1 transformer from one `.safetensors` file, with the rest of the pipeline from a config source.

FLUX fine-tunes and the original release ship the transformer alone, either in Black Forest Labs'
layout (`double_blocks.N.img_attn.qkv...`, converted by flux_bfl.py at any width) or already in diffusers' layout
(`transformer_blocks.N.attn.to_q...`, read as is). The text encoders, tokenizers, autoencoder and
scheduler come from `config`: a local diffusers FLUX folder (offline) or a Hub id in the local cache.
Without one, the FLUX.1 repository matching the file is used: dev when the file has a guidance
embedding, schnell otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from freecure_edit.errors import ModelNotFoundError
from freecure_edit.models.devices import dtype_kwarg

# The Hub ids whose configs describe a lone FLUX transformer file (with a guidance embedding: dev).
FLUX_DEV = "black-forest-labs/FLUX.1-dev"
FLUX_SCHNELL = "black-forest-labs/FLUX.1-schnell"

_BFL_MARKERS = ("double_blocks.", "single_blocks.", "model.diffusion_model.double_blocks.")
_DIFFUSERS_MARKERS = ("single_transformer_blocks.",)
_GUIDANCE_MARKERS = ("guidance_in.", "time_text_embed.guidance_embedder.", "model.diffusion_model.guidance_in.")


def is_flux_transformer_key(key: str) -> bool:
    return key.startswith(_BFL_MARKERS + _DIFFUSERS_MARKERS)


def _has_guidance_embedding(path: Path) -> bool:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return any(key.startswith(_GUIDANCE_MARKERS) for key in handle.keys())


def load_flux_transformer_file(path: Path, config, dtype: torch.dtype):
    """FluxPipeline with the transformer read from `path` and everything else from `config`."""
    from diffusers import FluxPipeline, FluxTransformer2DModel


    if config is not None:
        source = Path(config).expanduser()
        if not source.is_dir():
            raise ModelNotFoundError(f"model config folder {config} does not exist")
        source_text, local_only = str(source), True
    else:
        source_text = FLUX_DEV if _has_guidance_embedding(path) else FLUX_SCHNELL
        local_only = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}
    weights = _bfl_converted(path)
    try:
        transformer = FluxTransformer2DModel.from_single_file(
            weights if weights is not None else str(path), config=source_text, subfolder="transformer", local_files_only=local_only, **dtype_kwarg(dtype)
        )
        return FluxPipeline.from_pretrained(
            source_text, transformer=transformer, local_files_only=local_only, **dtype_kwarg(dtype)
        )
    except (OSError, TypeError, ValueError) as error:
        raise ModelNotFoundError(
            f"{path.name} is a FLUX transformer alone; its text encoders and autoencoder come from {source_text}, "
            "which is not on disk; pass a local diffusers FLUX folder with --model-config"
        ) from error


def _bfl_converted(path: Path) -> dict | None:
    """The file's tensors in diffusers' names when it is in BFL's layout (our converter reads the widths
    from the tensors; diffusers' assumes FLUX.1's 3072 channels); None when diffusers can read it as is."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from freecure_edit.errors import ConfigurationError
    from freecure_edit.models.flux_bfl import bfl_to_diffusers, is_bfl_layout

    with safe_open(str(path), framework="pt") as handle:
        if not is_bfl_layout(handle.keys()):
            return None
    try:
        return bfl_to_diffusers(load_file(str(path)))
    except (KeyError, ValueError) as error:
        raise ConfigurationError(f"{path.name} is not a complete FLUX transformer in BFL's layout: {error}") from None
