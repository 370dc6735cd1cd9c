"""Blending a cured region back into the untouched photo.

Only pixels where the blend weight is non-zero are touched; everywhere else the output is the input
photo, byte for byte. The weight is the mask grown by the feather radius and softened inside that
growth, so the soft edge lies outside the region the cure changed, never inside it.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F


def feathered_weight(mask: torch.Tensor, feather_px: float) -> torch.Tensor:
    """A (H, W) weight in [0, 1]: 1 on the mask, falling to 0 within `feather_px` outside it."""
    mask = mask.float().clamp(0, 1)
    if feather_px <= 0:
        return mask
    radius = int(np.ceil(feather_px))
    # A square max filter is separable: rows then columns cost O(r) per pixel instead of O(r^2).
    grown = F.max_pool2d(mask[None, None], (1, 2 * radius + 1), stride=1, padding=(0, radius))
    grown = F.max_pool2d(grown, (2 * radius + 1, 1), stride=1, padding=(radius, 0))[0, 0]
    sigma = max(feather_px / 2.0, 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(grown[None, None], (radius, radius, radius, radius), mode="constant", value=0.0)
    blurred = F.conv2d(F.conv2d(padded, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))[0, 0]
    # Inside the mask the weight stays exactly 1; the blur only shapes the edge outside it, and never
    # reaches beyond the grown support.
    weight = torch.maximum(blurred * (grown > 0), mask)
    return weight.clamp(0, 1)


def blend_into(
    photo: PIL.Image.Image, cured: PIL.Image.Image, mask: torch.Tensor, feather_px: float
) -> PIL.Image.Image:
    """The photo with `cured` (any size, resized to the photo's) blended in where `mask` says.

    `mask` is (h, w) at any resolution; it is resized to the photo before feathering.
    """
    width, height = photo.size
    base = np.asarray(photo.convert("RGB"))
    if cured.size != photo.size:
        cured = cured.resize(photo.size, PIL.Image.LANCZOS)
    top = np.asarray(cured.convert("RGB"))
    full_mask = F.interpolate(mask.float()[None, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    weight = feathered_weight(full_mask, feather_px).numpy()
    changed = weight > 0
    out = base.copy()
    blended = base[changed].astype(np.float32) * (1 - weight[changed, None]) + top[changed].astype(np.float32) * weight[changed, None]
    out[changed] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return PIL.Image.fromarray(out, "RGB")
