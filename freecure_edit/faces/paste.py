"""Putting a cured face crop back into the full-resolution photo.

The crop's transform is undone with its inverse, and the cured pixels are blended in with the same
feathered weight as a whole-image paste (`compose.feathered_weight`). Only pixels where the warped weight
is above zero are written; every other pixel of the photo is returned byte for byte, so faces pasted one
after another never disturb each other outside their own feathered masks.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F

from freecure_edit.imageio.compose import feathered_weight
from freecure_edit.errors import ConfigurationError
from freecure_edit.faces.crop import FaceCrop
from freecure_edit.faces.geometry import apply_affine, compose_affine, invert_affine
from freecure_edit.faces.warp import warp_affine


def paste_back(
    photo: PIL.Image.Image,
    cured_crop: PIL.Image.Image,
    crop: FaceCrop,
    mask: torch.Tensor,
    feather_px: float,
) -> PIL.Image.Image:
    """The photo with `cured_crop` blended in where `mask` says.

    `mask` is (h, w) in [0, 1] at any resolution, covering the whole crop. `feather_px` is
    measured in photo pixels, as for a whole-image paste, so the soft edge looks the same whatever the
    face's size. The blend cannot reach past the crop's square, where there are no cured pixels: a mask
    touching the square's edge ends there without a feather (the crop margin keeps face parts clear of it).
    """
    if mask.dim() != 2:
        raise ConfigurationError(f"paste-back mask must be (h, w); got shape {tuple(mask.shape)}")
    if photo.mode != "RGB":
        photo = photo.convert("RGB")
    out = photo.copy()
    if cured_crop.size != (crop.size, crop.size):
        cured_crop = cured_crop.resize((crop.size, crop.size), PIL.Image.LANCZOS)
    weight, grid_to_crop = _feathered_weight_grid(mask, crop, feather_px)
    # Only the part of the photo the warped weight reaches is read, warped and blended: the cost
    # follows the mask, not the photo's size.
    box = _weight_region(weight, grid_to_crop, crop, photo.size)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    crop_to_region = compose_affine(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]), invert_affine(crop.matrix))
    region_size = (x1 - x0, y1 - y0)
    region_weight = warp_affine(
        weight,
        compose_affine(crop_to_region, grid_to_crop),
        region_size,
        interpolation=cv2.INTER_LINEAR,
        border_mode=cv2.BORDER_CONSTANT,
    )
    changed = region_weight > 0
    if not changed.any():
        return out
    # Float, so the cured pixels are rounded once, after blending, not once per resampling step.
    region_top = warp_affine(np.asarray(cured_crop.convert("RGB"), dtype=np.float32), crop_to_region, region_size)
    region = np.array(photo.crop(box))
    alpha = np.clip(region_weight[changed], 0.0, 1.0)[:, None]
    blended = region[changed].astype(np.float32) * (1.0 - alpha) + region_top[changed] * alpha
    region[changed] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    out.paste(PIL.Image.fromarray(region, "RGB"), (x0, y0))
    return out


def _weight_region(
    weight: np.ndarray, grid_to_crop: np.ndarray, crop: FaceCrop, size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The photo pixels the warped weight can reach: its non-zero grid cells (one cell more for the
    bilinear warp) mapped to the photo, plus one pixel, within the crop's square. None when empty."""
    x0, y0, x1, y1 = _photo_region(crop, *size)
    rows, columns = np.nonzero(weight > 0)
    if x1 <= x0 or y1 <= y0 or rows.size == 0:
        return None
    corners = np.array([[columns.min() - 1, rows.min() - 1], [columns.max() + 1, rows.min() - 1],
                        [columns.min() - 1, rows.max() + 1], [columns.max() + 1, rows.max() + 1]], dtype=np.float64)
    reach = apply_affine(compose_affine(invert_affine(crop.matrix), grid_to_crop), corners)
    left = max(math.floor(reach[:, 0].min()) - 1, x0)
    top = max(math.floor(reach[:, 1].min()) - 1, y0)
    right = min(math.ceil(reach[:, 0].max()) + 2, x1)
    bottom = min(math.ceil(reach[:, 1].max()) + 2, y1)
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def _feathered_weight_grid(mask: torch.Tensor, crop: FaceCrop, feather_px: float) -> tuple[np.ndarray, np.ndarray]:
    """The feathered weight over the crop, and the 2x3 matrix from its grid to crop pixels.

    Feathering costs the grid's area times the feather's area, so an enlarged face is feathered on a grid
    at the photo's own resolution rather than the crop's (for a 4x enlargement, 16x fewer pixels under a
    4x narrower kernel). The weight is the same either way, since the feather is set in photo pixels.
    """
    grid = max(1, round(crop.size / max(crop.scale, 1.0)))
    grid_mask = F.interpolate(
        mask.detach().float().cpu()[None, None], size=(grid, grid), mode="bilinear", align_corners=False
    )[0, 0]
    step = crop.size / grid
    weight = feathered_weight(grid_mask, feather_px * crop.scale / step).numpy()
    # Pixel centres: crop x = (grid x + 0.5) * step - 0.5, as for any resize.
    grid_to_crop = np.array([[step, 0.0, 0.5 * step - 0.5], [0.0, step, 0.5 * step - 0.5]])
    return weight, grid_to_crop


def _photo_region(crop: FaceCrop, width: int, height: int) -> tuple[int, int, int, int]:
    """The photo's pixels the crop square covers (plus one for interpolation), clipped to the photo."""
    edge = crop.size - 0.5
    corners = np.array([[-0.5, -0.5], [edge, -0.5], [-0.5, edge], [edge, edge]])
    reach = apply_affine(invert_affine(crop.matrix), corners)
    x0 = max(math.floor(reach[:, 0].min()) - 1, 0)
    y0 = max(math.floor(reach[:, 1].min()) - 1, 0)
    x1 = min(math.ceil(reach[:, 0].max()) + 2, width)
    y1 = min(math.ceil(reach[:, 1].max()) + 2, height)
    return x0, y0, x1, y1
