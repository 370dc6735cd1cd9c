"""The options that choose the models and where they run; the choosing and loading is the library's
(freecure_edit/model_choice.py)."""

from __future__ import annotations

from pathlib import Path

import click

from freecure_edit.models.locations import SAM_CHECKPOINT_NAMES
from freecure_edit.model_choice import (
    DEFAULT_FACE_PACK, DEFAULT_MODEL, DEFAULT_SEGFORMER_MODEL, DTYPE_CHOICES, MODEL_DEFAULTS, PARSER_CHOICES,
)

_OPTIONS = (
    click.option("--model", default=DEFAULT_MODEL, show_default=True,
                 help="The diffusion model: a Hub id (from the Hugging Face cache), a diffusers folder or one "
                      ".safetensors file (SD 1.x or SDXL)."),
    click.option("--model-config", type=click.Path(path_type=Path),
                 help="For a single-file --model offline: a local diffusers folder of the same model family."),
    click.option("--vae", help="Replace the model's autoencoder (Hub id, folder or file), e.g. "
                               "madebyollin/sdxl-vae-fp16-fix for SDXL in fp16."),
    click.option("--allow-pickle", is_flag=True,
                 help="Load pickled checkpoints (.ckpt, .pt, .bin); unpickling can run code, so only trusted files."),
    click.option("--parser", type=click.Choice(PARSER_CHOICES), default="segformer", show_default=True,
                 help="The face parser that finds the attribute regions."),
    click.option("--parser-model",
                 help=f"The parser's weights: a Hub id or a folder for segformer (default {DEFAULT_SEGFORMER_MODEL}), "
                      "a 79999_iter.pth file for bisenet."),
    click.option("--sam-checkpoint", type=click.Path(path_type=Path),
                 help=f"The SAM checkpoint for --refine sam  [default: the first of {', '.join(SAM_CHECKPOINT_NAMES)} "
                      "in the current folder or in $FREECURE_EDIT_HOME (~/.cache/freecure-edit)]"),
    click.option("--face-pack", default=DEFAULT_FACE_PACK,
                 help="The face pack that detects faces and measures identity (unused with --no-detect): an "
                      "insightface pack (buffalo_l, antelopev2), dlib (HOG detector) or dlib-mmod (CNN detector: "
                      "slower, better on turned faces); toy is the toy world's identity judge  [default: buffalo_l when on disk, else dlib when installed]"),
    click.option("--face-root", type=click.Path(path_type=Path),
                 help="The pack's folder, a folder holding it, or an insightface root  "
                      "[default: $INSIGHTFACE_HOME, else ~/.insightface]"),
    click.option("--device", help="cuda, cuda:1, mps or cpu  [default: cuda, then mps, then cpu]"),
    click.option("--dtype", type=click.Choice(DTYPE_CHOICES),
                 help="The models' precision  [default: fp16 on a GPU, fp32 on the CPU]"),
    click.option("--offload", is_flag=True, help="Keep the models in CPU memory between uses (small GPUs)."),
)


def model_options(command):
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def model_values(params: dict) -> dict:
    """The model settings among a command's parameters."""
    return {key: params[key] for key in MODEL_DEFAULTS}
