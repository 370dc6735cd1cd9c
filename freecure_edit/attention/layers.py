"""Which self-attention layers FASA acts on, and how strongly, chosen from the UNet's structure.

The authors' released code acts on the last self-attention blocks of the up path, in execution order:
the last 6 of SD 1.x's 9 (up_blocks.2 and up_blocks.3) and the last 20 of SDXL's 36 (the last 14 of
up_blocks.0 and all 6 of up_blocks.1). We recognise those two shapes by how many self-attention blocks each
up block holds, not by names or widths. On any other shape we take what the SD 1.x choice is in terms of
resolution: the up-path layers whose grid is at least half the latent's side (SD 1.x's up_blocks.2 and
3 run at 32 and 64 of a 64 latent). On the toy world's UNet (16 px latents, layers at 8 and 16) that is
all four layers; the earlier rule, the last 60%, dropped the 8 px layer, and with it the cure carried no
hair colour at all (README, "Toy world: the experiment"). Never empty on a UNet with up-path
self-attention: the last layer runs at the latent's own grid.
"""

from __future__ import annotations

from collections import Counter

import torch

from freecure_edit.errors import ConfigurationError

# Self-attention blocks per up block (blocks without attention left out) -> how many of the last to use.
_AUTHORS_LAYER_COUNTS: dict[tuple[int, ...], int] = {(3, 3, 3): 6, (30, 6): 20}

_SD_OMEGA = 0.5
_SDXL_OMEGA = 1.5

UP_PATH_PREFIX = "up_blocks."
_PROCESSOR_SUFFIX = ".processor"


def execution_order(name: str) -> tuple[int, ...]:
    """Sort key: the numeric parts of a module path ("up_blocks.1.attentions.2..." -> (1, 2, ...)).

    Within one path (down, mid or up) blocks, attentions and transformer blocks run in index order, so
    this orders a path's layers as they execute.
    """
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def is_up_path(name: str) -> bool:
    return name.startswith(UP_PATH_PREFIX)


def attention_module(unet: torch.nn.Module, processor_name: str) -> torch.nn.Module:
    """The `Attention` module that owns the processor registered under `processor_name`."""
    return unet.get_submodule(processor_name.removesuffix(_PROCESSOR_SUFFIX))


def is_self_attention(unet: torch.nn.Module, processor_name: str) -> bool:
    return not attention_module(unet, processor_name).is_cross_attention


def up_path_self_attention_layers(unet: torch.nn.Module) -> list[str]:
    """Processor names of every self-attention layer in the up path, in execution order."""
    names = [name for name in unet.attn_processors if is_up_path(name) and is_self_attention(unet, name)]
    return sorted(names, key=execution_order)


def default_fasa_layers(unet: torch.nn.Module) -> list[str]:
    """The authors' FASA layers on SD 1.x and SDXL shapes; on others the layers at half the latent grid or finer."""
    layers = up_path_self_attention_layers(unet)
    if not layers:
        raise ConfigurationError(
            "this UNet has no self-attention in its up path, so FASA has no layer to act on"
        )
    per_up_block = Counter(execution_order(name)[0] for name in layers)
    shape = tuple(per_up_block[block] for block in sorted(per_up_block))
    # Integer arithmetic: ceil(0.6 * n) in floats gives 4 for n = 5 (0.6 * 5 = 3.0000000000000004).
    count = _AUTHORS_LAYER_COUNTS.get(shape)
    if count is not None:
        return layers[-count:]
    fine = [name for name in layers if _upsamplings_after(unet, execution_order(name)[0]) <= 1]
    return fine or layers[-1:]


def _upsamplings_after(unet: torch.nn.Module, block: int) -> int:
    """How many times the grid doubles from up block `block` to the output: its grid is latent / 2^this."""
    return sum(1 for up in unet.up_blocks[block:] if getattr(up, "upsamplers", None))


def default_omega(unet: torch.nn.Module) -> float:
    """The authors' FASA strength: 1.5 for SDXL (recognised by its text-and-time conditioning), else 0.5."""
    is_sdxl = getattr(unet.config, "addition_embed_type", None) == "text_time"
    return _SDXL_OMEGA if is_sdxl else _SD_OMEGA
