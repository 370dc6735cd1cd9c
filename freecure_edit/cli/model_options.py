"""The options that choose the models and where they run, and loading them into a FreeCure.

Names that live in modules importing torch (the default model, the parsers) are repeated here so that
`--help` stays light; tests/test_cli_options.py checks that the copies match the library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from freecure_edit.cli.locations import SAM_CHECKPOINT_NAMES, find_sam_checkpoint, freecure_home
from freecure_edit.errors import ConfigurationError, ModelNotFoundError

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_SEGFORMER_MODEL = "jonathandinu/face-parsing"
DEFAULT_FACE_PACK = "buffalo_l"
# The registry's "sam" parser is left out: --refine sam tightens the masks of either of these.
PARSER_CHOICES = ("segformer", "bisenet")
DTYPE_CHOICES = ("fp16", "bf16", "fp32")

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
    click.option("--face-pack", default=DEFAULT_FACE_PACK, show_default=True,
                 help="The insightface pack that detects faces and measures identity (unused with --no-detect)."),
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


@dataclass(frozen=True)
class ModelChoice:
    model: str
    model_config: Path | None
    vae: str | None
    allow_pickle: bool
    parser: str
    parser_model: str | None
    sam_checkpoint: Path | None  # set exactly when SAM refines the masks
    face_pack: str
    face_root: Path | None
    dtype: str | None
    offload: bool

    def parameters(self, detect: bool) -> dict[str, Any]:
        """What to store in the output for reproducibility (unset or unused choices left out)."""
        values = {
            "model": self.model, "model_config": self.model_config, "vae": self.vae, "parser": self.parser,
            "parser_model": self.parser_model, "sam_checkpoint": self.sam_checkpoint,
            "face_pack": self.face_pack if detect else None,
        }
        return {key: str(value) for key, value in values.items() if value is not None}


def model_choice(params: dict[str, Any], refine: str) -> ModelChoice:
    """The models the options (and the config's `refine`) ask for; a missing SAM checkpoint is reported
    now, before anything loads."""
    checkpoint = params["sam_checkpoint"]
    if checkpoint is not None and refine != "sam":
        raise ConfigurationError("--sam-checkpoint is only used with --refine sam")
    if refine == "sam":
        checkpoint = _sam_checkpoint(checkpoint)
    return ModelChoice(
        model=params["model"], model_config=params["model_config"], vae=params["vae"],
        allow_pickle=params["allow_pickle"], parser=params["parser"], parser_model=params["parser_model"],
        sam_checkpoint=checkpoint, face_pack=params["face_pack"], face_root=params["face_root"],
        dtype=params["dtype"], offload=params["offload"],
    )


def _sam_checkpoint(given: Path | None) -> Path:
    if given is not None:
        if not given.expanduser().is_file():
            raise ModelNotFoundError(f"SAM checkpoint {given} does not exist")
        return given.expanduser()
    found = find_sam_checkpoint()
    if found is None:
        raise ModelNotFoundError(
            f"--refine sam needs a segment-anything checkpoint and none was found: download {SAM_CHECKPOINT_NAMES[0]} "
            f"(https://dl.fbaipublicfiles.com/segment_anything/{SAM_CHECKPOINT_NAMES[0]}) into {freecure_home()} "
            "or the current folder, or pass --sam-checkpoint PATH"
        )
    return found


def check_face_pack(choice: ModelChoice) -> None:
    """Refuse a missing face detector before the diffusion model spends a minute loading."""
    from freecure_edit.faces.packs import locate_pack

    try:
        locate_pack(choice.face_pack, choice.face_root)
    except ModelNotFoundError as error:
        raise ModelNotFoundError(
            f"{error} (--face-root), or pass --no-detect to cure the whole image without a face detector"
        ) from None


def load_freecure(choice: ModelChoice, device, *, detect: bool):
    """The diffusion model, the face parser, SAM when it refines the masks and, with `detect`, the
    face detector, loaded on `device`."""
    from freecure_edit.api import FreeCure

    return FreeCure.from_pretrained(
        choice.model, parser=choice.parser, parser_model=choice.parser_model, device=device, dtype=choice.dtype,
        offload=choice.offload, model_config=str(choice.model_config) if choice.model_config else None,
        vae=choice.vae, allow_pickle=choice.allow_pickle,
        detector=choice.face_pack if detect else None,
        face_root=str(choice.face_root) if choice.face_root else None,
        sam_checkpoint=str(choice.sam_checkpoint) if choice.sam_checkpoint else None,
    )
