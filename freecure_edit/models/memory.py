"""Is a working size within the machine's memory? A floor, judged from the model and the free memory.

`--working-size 99999` once ran the kernel out of memory after 75 s (a silent kill, exit 137). A kill
cannot be caught, so a size is refused before the work when even the least that one denoiser evaluation
must hold cannot fit: the model's weights plus, for a batch of two rows (one guided evaluation), the
input and output of the denoiser's first, widest-resolution block in fp32. Real peaks are several
times this floor, so a size refused here could never have run; one that passes may still fail, and
then a CUDA out-of-memory ends with exit 5 and one line (failures.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from freecure_edit.errors import ConfigurationError

_FP32_BYTES = 4
_ROWS = 2  # one guided evaluation: the unconditional and the conditional row
_LIVE_TENSORS = 2  # a block's input and its output exist at the same time


@dataclass(frozen=True)
class DenoiserShape:
    """What sets the activation memory of one evaluation: the width of the denoiser's first block and
    how many pixels of the photo one of its positions covers."""

    channels: int  # UNet block_out_channels[0]; a FLUX transformer's inner width
    pixels_per_position: int  # the VAE's factor (8); FLUX packs 2x2 latents into one token (16)


def activation_floor(shape: DenoiserShape, side: int) -> int:
    positions = max(1, side // shape.pixels_per_position) ** 2
    return _ROWS * _LIVE_TENSORS * positions * shape.channels * _FP32_BYTES


def free_memory(device) -> int:
    """Bytes the device can still allocate: CUDA's free memory, or the system's available memory."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def check_working_memory(shape: DenoiserShape | None, weight_bytes: int, side: int, device, *,
                         free: int | None = None) -> None:
    """Refuse `side` (ConfigurationError, exit 2) when the floor of its memory exceeds what `device` has
    free. `weight_bytes`: the model's weights not yet in memory (0 once loaded). No shape: no check."""
    if shape is None:
        return
    free = free_memory(device) if free is None else free
    needed = weight_bytes + activation_floor(shape, side)
    if needed > free:
        raise ConfigurationError(
            f"a working size of {side} px needs at least {_gigabytes(needed)} of memory "
            f"({_gigabytes(weight_bytes)} of weights and {_gigabytes(needed - weight_bytes)} for one denoiser "
            f"evaluation), and the {torch_device_name(device)} has {_gigabytes(free)} free: use a smaller "
            "--working-size, or leave it unset for the model's own size")


def torch_device_name(device) -> str:
    text = str(device)
    return "CPU" if text == "cpu" else text


def _gigabytes(size: int) -> str:
    return f"{size / 1024 ** 3:.1f} GB"


def shape_of_pipeline(pipe) -> DenoiserShape | None:
    """The shape of a loaded pipeline's denoiser (a UNet, or a FLUX transformer)."""
    unet, transformer = getattr(pipe, "unet", None), getattr(pipe, "transformer", None)
    if unet is not None:
        return DenoiserShape(int(unet.config.block_out_channels[0]), int(pipe.vae_scale_factor))
    if transformer is not None:
        config = transformer.config
        return DenoiserShape(int(config.num_attention_heads) * int(config.attention_head_dim),
                             int(pipe.vae_scale_factor) * 2)
    return None


# -- the shape and weights of a model not yet loaded, from its files -----------------------------------


def model_files_folder(source: str) -> Path | None:
    """The folder holding a diffusers model's files: a local folder, or a Hub id's snapshot in the cache."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        return None
    from freecure_edit.models.presence import cached_hub_file

    try:
        found = cached_hub_file(source, "model_index.json")
    except ValueError:  # not a Hub id either
        return None
    return Path(found).parent if found is not None else None


def shape_of_folder(folder: Path) -> DenoiserShape | None:
    unet = folder / "unet" / "config.json"
    if unet.is_file():
        config = json.loads(unet.read_text())
        channels = (config.get("block_out_channels") or [None])[0]
        return DenoiserShape(int(channels), 8) if channels else None
    transformer = folder / "transformer" / "config.json"
    if transformer.is_file():
        config = json.loads(transformer.read_text())
        heads, width = config.get("num_attention_heads"), config.get("attention_head_dim")
        return DenoiserShape(int(heads) * int(width), 16) if heads and width else None
    return None


def weights_on_disk(source: str) -> int:
    """Bytes of the denoiser's weights (a single file: all of it), 0 when they cannot be found before
    loading. Only the denoiser's own non-variant files count: a folder may hold .bin beside .safetensors
    copies, or fp16 variants, and counting them all would refuse sizes that fit."""
    path = Path(source).expanduser()
    if path.is_file():
        return path.stat().st_size
    folder = model_files_folder(source)
    if folder is None:
        return 0
    for part in ("unet", "transformer"):
        files = [file for file in (folder / part).glob("diffusion_pytorch_model*") if ".fp16." not in file.name]
        for suffix in (".safetensors", ".bin"):
            chosen = [file for file in files if file.name.endswith(suffix)]
            if chosen:
                return sum(file.stat().st_size for file in chosen)
    return 0


def model_memory_facts(source: str) -> tuple[DenoiserShape | None, int]:
    """The denoiser's shape (None when it cannot be read before loading, e.g. a single file) and the
    weights' bytes, of a model given as it is given to --model."""
    folder = model_files_folder(source)
    shape = shape_of_folder(folder) if folder is not None else None
    return shape, weights_on_disk(source)
