"""What is wrong with a model, found before diffusers reads it and said in one line that names the file.

- `check_single_file(path)`: a `.safetensors` checkpoint that is cut short (an interrupted download),
  that is not a safetensors file at all (an HTML page saved under that name), that is a LoRA, LyCORIS
  or textual-inversion file rather than a checkpoint, or that holds no UNet or transformer; all
  ModelNotFoundError (exit code 4). An inpainting checkpoint is refused as ConfigurationError (exit 2):
  the file is sound, but the cure needs a text-to-image model.
- `check_folder(path)`: every component that `model_index.json` names has its folder, and the UNet or
  transformer config takes the plain latent of the folder's autoencoder.
- `check_weight_files(path)`: every `.safetensors` file of a folder opens; `check_local_model(path)`
  runs the checks that fit a file or a folder, before anything loads.
- `check_channels(pipe, source)`: after loading from anywhere (a Hub id too), the same channel check.

The cure inverts and regenerates the photo's latent as it is: a UNet that also takes a mask and a
masked image (9 input channels for SD's 4-channel latent; FLUX Fill's transformer 384 instead of 64)
cannot run that way. A UNet takes the latent's channels; FLUX's transformer the latent packed in 2x2
patches, four times its channels (64 for FLUX.1's 16-channel latent, 16 for the toy world's 4).
"""

from __future__ import annotations

import json
from pathlib import Path

from freecure_edit.errors import ConfigurationError, ModelNotFoundError

# How many input channels a text-to-image model's denoiser has per latent channel.
CHANNELS_PER_LATENT = {"unet": 1, "transformer": 4}
# The latent channels of the single-file checkpoints read here: SD 1.x and SDXL 4, FLUX.1 16.
SINGLE_FILE_LATENT = {"unet": 4, "transformer": 16}
# The first layer's weight in a single file, and where its input channels are.
_FIRST_LAYERS = (
    "model.diffusion_model.input_blocks.0.0.weight",   # SD 1.x, SDXL (original layout)
    "x_embedder.weight",                                # FLUX, diffusers layout
    "img_in.weight",                                    # FLUX, Black Forest Labs' layout
    "model.diffusion_model.img_in.weight",
)
_ADAPTER_MARKERS = {
    "a LoRA": ("lora_down", "lora_up", "lora_A", "lora_B", "lora_unet_", "lora_te"),
    "a LyCORIS adapter": ("hada_w", "lokr_w"),
    "a textual-inversion embedding": ("string_to_param", "emb_params", "clip_l", "clip_g"),
}
_MODEL_MARKERS = ("model.diffusion_model.", "double_blocks.", "transformer_blocks.", "single_blocks.")
# Components diffusers can do without (the cure loads no safety checker).
_OPTIONAL_COMPONENTS = {"safety_checker", "feature_extractor", "image_encoder"}


def check_single_file(path: Path) -> None:
    if path.suffix.lower() != ".safetensors":
        return
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
            shapes = {key: handle.get_slice(key).get_shape() for key in _FIRST_LAYERS if key in keys}
    except SafetensorError as error:
        raise ModelNotFoundError(f"{path}: {_unreadable(path, str(error))}") from None
    except OSError as error:
        raise ModelNotFoundError(f"{path}: cannot be read ({error.strerror or error})") from None
    for what, markers in _ADAPTER_MARKERS.items():
        if any(marker in key for key in keys for marker in markers) and not any(
                key.startswith(_MODEL_MARKERS) for key in keys):
            raise ModelNotFoundError(f"{path}: is {what}, not a model checkpoint; pass a base model with --model "
                                     "(adapters are not loaded by freecure-edit)")
    if not any(key.startswith(_MODEL_MARKERS) or ".diffusion_model." in key for key in keys):
        sample = ", ".join(keys[:3]) or "none"
        raise ModelNotFoundError(f"{path}: holds no UNet or transformer ({len(keys)} tensors, such as {sample}); "
                                 "pass a full SD 1.x, SDXL or FLUX checkpoint")
    for key, shape in shapes.items():
        kind = "unet" if "input_blocks" in key else "transformer"
        _check_input_channels(shape[1], kind, SINGLE_FILE_LATENT[kind], path)


def check_folder(path: Path) -> None:
    index = json.loads((path / "model_index.json").read_text())
    for name, value in index.items():
        if name.startswith("_") or name in _OPTIONAL_COMPONENTS or not isinstance(value, list):
            continue
        if value[0] is None:
            continue
        if not (path / name).is_dir():
            raise ModelNotFoundError(f"{path}: the component '{name}' ({value[-1]}) is missing: its folder {name}/ "
                                     "is not there; download the whole model folder again")
    vae_config = path / "vae" / "config.json"
    latent = json.loads(vae_config.read_text()).get("latent_channels", 4) if vae_config.is_file() else None
    for kind in CHANNELS_PER_LATENT:
        config_file = path / kind / "config.json"
        if latent is not None and config_file.is_file():
            channels = json.loads(config_file.read_text()).get("in_channels")
            if channels is not None:
                _check_input_channels(channels, kind, latent, path)


def check_weight_files(path: Path) -> None:
    """Every `.safetensors` file of a diffusers folder's components opens (its header read, not its
    weights): a file cut short or replaced by a web page is named before anything loads."""
    from safetensors import SafetensorError, safe_open

    for weights in sorted(path.glob("*/*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except SafetensorError as error:
            raise ModelNotFoundError(f"{path}: {weights.relative_to(path)} {_unreadable(weights, str(error))}") from None


def check_local_model(path: Path) -> None:
    """The checks of a local model that need no loading: check_single_file for a file; for a diffusers
    folder check_folder and check_weight_files."""
    if path.is_file():
        check_single_file(path)
    elif (path / "model_index.json").is_file():
        check_folder(path)
        check_weight_files(path)


def check_channels(pipe, source: str) -> None:
    latent = pipe.vae.config.latent_channels
    for kind in CHANNELS_PER_LATENT:
        model = getattr(pipe, kind, None)
        if model is not None:
            _check_input_channels(model.config.in_channels, kind, latent, source)


def _check_input_channels(channels: int, kind: str, latent_channels: int, where) -> None:
    expected = CHANNELS_PER_LATENT[kind] * latent_channels
    if channels == expected:
        return
    what = ("an inpainting (or other image-conditioned) model" if channels > expected
            else "not a text-to-image model for its autoencoder")
    raise ConfigurationError(f"{where}: is {what} (its {kind} takes {channels} input channels, not {expected}); "
                             "the cure needs the text-to-image model of the same family")


def _unreadable(path: Path, message: str) -> str:
    if "incomplete metadata" in message or "not fully covered" in message:
        return (f"is truncated ({path.stat().st_size} bytes, fewer than its header lists): the download was cut "
                "short; download it again")
    with open(path, "rb") as handle:
        start = handle.read(64).lstrip().lower()
    if start.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        return "is a web page saved under that name, not a safetensors file: download the file itself"
    return f"is not a safetensors file ({message.split(':')[-1].strip()})"
