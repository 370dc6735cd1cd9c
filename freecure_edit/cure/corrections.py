"""Where the two branches give up the exact front end's per-step corrections, at the latent grid.

The corrections retrace the photo, the very hair colour or glasses the prompt asks to change included;
a UNet that reconstructs the photo mostly through them holds on to it there. Each branch can give up a
share of them inside a region, where its step becomes plain sampling (`ExactInversion.next_latent`).
"""

from __future__ import annotations

import torch

from freecure_edit.cure.config import CureConfig
from freecure_edit.inversion import ExactInversion, Inversion
from freecure_edit.masks import resize_mask
from freecure_edit.masks.ops import dilate, label_region
from freecure_edit.prompts import ParsedPrompt


def photo_release(config: CureConfig, inversion: Inversion, cure_mask: torch.Tensor, latent_size):
    """How much the photo branch gives up: (1 - mask_corrections) inside the cure mask, nothing
    outside; None when nothing is given up.

    It scales with the strength up to 1, as ROFA's weight and APG's gamma do, so that a strength near 0
    stays near the photo instead of jumping to a photo with its corrections taken away.
    """
    share = _share(config.photo_corrections_kept, config, inversion)
    if share is None:
        return None
    mask = resize_mask(cure_mask, *latent_size).to(inversion.zT.device)
    return (share * mask).to(inversion.zT)[None, None]


def foundation_release(config: CureConfig, inversion: Inversion, parsed: ParsedPrompt,
                       photo_parse: dict[str, torch.Tensor], latent_size):
    """How much the foundation branch gives up: (1 - fd_mask_corrections) inside the photo's own region
    of the spatial attributes, grown by one latent cell; None when nothing is given up.

    The foundation image does not exist yet when its branch runs, so only the photo's parse can say
    where: where the photo has the hair or glasses the prompt changes, which the corrections would
    otherwise paint back into the foundation image as well. An attribute the photo lacks (glasses to be
    added) has no region here; the foundation branch draws it without help from the corrections anyway.
    """
    share = _share(config.foundation_corrections_kept, config, inversion)
    if share is None or not config.fd_corrections or not parsed.spatial or not photo_parse:
        return None
    shape = tuple(next(iter(photo_parse.values())).shape[-2:])
    region = torch.zeros(shape)
    for attribute in parsed.spatial:
        region = torch.maximum(region, (label_region(photo_parse, attribute.labels, shape) >= 0.5).float())
    if float(region.max()) <= 0:
        return None
    # One latent cell more: the parse's edge falls inside a cell whose step the corrections still hold.
    mask = dilate(resize_mask(region, *latent_size), 1).to(inversion.zT.device)
    return (share * mask).to(inversion.zT)[None, None]


def _share(kept: float, config: CureConfig, inversion: Inversion) -> float | None:
    share = (1.0 - kept) * min(1.0, config.strength)
    if share <= 0.0 or not isinstance(inversion, ExactInversion):
        return None
    return share
