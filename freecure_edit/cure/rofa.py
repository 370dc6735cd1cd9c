"""The paper's first version (seed 003): SAME masks and ROFA noise blending.

SAME: for each spatial attribute i, M_i = N(H_i) * Psi(I_pd)_i * Psi(I_fd)_i, where H_i is the
foundation branch's cross-attention map of the attribute's tokens (averaged over the up path's
cross-attention layers and the steps, min-max normalised) and Psi the parser's region in the photo and
in the foundation image; M = max_i M_i. A pixel is cured only where both parses and the attention agree.

ROFA: while the photo branch samples, its noise prediction is pulled toward the foundation branch's
inside M: eps_pd <- w M eps_fd + (1 - w M) eps_pd, from a start step on. The authors' code blends with
w = 0.75 after step 5.
"""

from __future__ import annotations

import torch

from freecure_edit.masks import AttributeMasks, label_region, resize_mask
from freecure_edit.prompts import ParsedPrompt


def same_masks(
    parsed: ParsedPrompt,
    photo_parse: dict[str, torch.Tensor],
    fd_parse: dict[str, torch.Tensor],
    attention_maps: dict[str, torch.Tensor],
    shape: tuple[int, int],
    source: str = "both",
) -> AttributeMasks:
    """SAME masks at `shape` (the working image's height, width), one per spatial attribute. `source`
    "photo" or "fd" keeps only that parse's factor (`mask_source`); a removal's stays the photo's."""
    per_attribute: dict[str, torch.Tensor] = {}
    warnings: list[str] = []
    for attribute in parsed.spatial:
        in_photo = (label_region(photo_parse, attribute.labels, shape) >= 0.5).float()
        in_foundation = (label_region(fd_parse, attribute.labels, shape) >= 0.5).float()
        attention = attention_maps.get(attribute.name)
        if attention is None:
            warnings.append(f"no cross-attention map for {attribute.name!r}: its tokens were not found")
            heat = torch.zeros(shape)
        else:
            heat = resize_mask(_min_max(attention.float().cpu()), *shape)
        if attribute.remove:
            # Something to take away is in the photo only; the foundation image no longer has it.
            in_foundation = in_photo
        elif source == "photo":
            in_foundation = torch.ones_like(in_photo)
        elif source == "fd":
            in_photo = torch.ones_like(in_foundation)
        mask = heat * in_photo * in_foundation
        if float(mask.max()) <= 0:
            warnings.append(
                f"the SAME mask of {attribute.name!r} is empty: the parses of the photo and the "
                "foundation image and its attention do not overlap"
            )
        per_attribute[attribute.name] = mask
    union = torch.zeros(shape)
    for mask in per_attribute.values():
        union = torch.maximum(union, mask)
    return AttributeMasks(per_attribute=per_attribute, union=union, warnings=warnings)


def blend_noise(
    photo_noise: torch.Tensor, foundation_noise: torch.Tensor, mask: torch.Tensor, weight: float
) -> torch.Tensor:
    """ROFA's blend; `mask` is (h, w) at the latent grid, broadcast over channels."""
    amount = (weight * mask).to(photo_noise)[None, None]
    return amount * foundation_noise + (1 - amount) * photo_noise


def _min_max(values: torch.Tensor) -> torch.Tensor:
    low, high = values.min(), values.max()
    if high <= low:
        return torch.zeros_like(values)
    return (values - low) / (high - low)
