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

# Rows of the photo blended at a time by blend_into.
STRIP_ROWS = 512


# The default paste feather as a share of the pasted region's short side: 8 px at SD 1.5's 512 px, the
# value used before it scaled. A fixed 8 px on a small image blends the regenerated surroundings into the
# face: on the toy world's 64 px drawings the red-hair cure kept identity 0.32 at 8 px and 0.85 at 1 px
# (ideal redrawn edit 0.95), with the hair as red in both (README, "Toy world: the experiment").
PASTE_FEATHER_SHARE = 1 / 64


def paste_feather(configured: float | None, region_size: tuple[int, int] | int) -> float:
    """The paste-back feather in photo pixels: `configured`, or the share of the region's short side."""
    if configured is not None:
        return float(configured)
    short = region_size if isinstance(region_size, int) else min(region_size)
    return max(1.0, short * PASTE_FEATHER_SHARE)


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

    `mask` is (h, w) at any resolution; it is resized to the photo before feathering. Only the window
    the feathered mask can reach is resized, feathered and blended, so that memory beyond the photo
    and its copy grows with the mask's box, not with the photo: a 100 MP photo with a face-sized mask
    costs what the face costs.
    """
    if photo.mode != "RGB":
        photo = photo.convert("RGB")
    out = photo.copy()
    box = reach_box(mask, photo.size, feather_px)
    if box is None:
        return out
    left, top, right, bottom = box
    cured = cured.convert("RGB")
    # The window is blended in strips of rows, each feathered with a halo of two feather radii (what
    # the feather's max filter and blur can see), so a mask over most of a 100 MP photo still costs
    # one strip at a time.
    halo = 2 * int(np.ceil(max(feather_px, 0))) + 2
    for start in range(top, bottom, STRIP_ROWS):
        stop = min(start + STRIP_ROWS, bottom)
        padded = (left, max(start - halo, top), right, min(stop + halo, bottom))
        weight = feathered_weight(resize_bilinear_window(mask.float(), photo.size, padded), feather_px)
        weight = weight[start - padded[1]: stop - padded[1]].numpy()
        changed = weight > 0
        if not changed.any():
            continue
        strip = (left, start, right, stop)
        base = np.asarray(photo.crop(strip))
        top_pixels = np.asarray(_resized_window(cured, photo.size, strip))
        alpha = weight[changed, None]
        blended = base[changed].astype(np.float32) * (1 - alpha) + top_pixels[changed].astype(np.float32) * alpha
        region = base.copy()
        region[changed] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
        out.paste(PIL.Image.fromarray(region, "RGB"), (left, start))
    return out


def reach_box(mask: torch.Tensor, size: tuple[int, int], feather_px: float) -> tuple[int, int, int, int] | None:
    """The photo window (left, top, right, bottom) that holds the mask's non-zero support once resized
    to `size` (w, h), plus two feather radii: the feather's max filter and blur then see exactly what
    they would see on the whole photo. None for an empty mask."""
    nonzero = torch.nonzero(mask > 0)
    if nonzero.numel() == 0:
        return None
    width, height = size
    mask_h, mask_w = mask.shape
    margin = 2 * int(np.ceil(max(feather_px, 0))) + 2
    # Bilinear (align_corners=False) samples mask index i at photo x = (i + 0.5) * scale - 0.5; the
    # neighbours i - 1 and i + 1 bound where a non-zero sample can still reach.
    def span(low: int, high: int, length: int, full: int) -> tuple[int, int]:
        scale = full / length
        start = int(np.floor((low - 1 + 0.5) * scale - 0.5)) - margin
        stop = int(np.ceil((high + 1 + 0.5) * scale - 0.5)) + 1 + margin
        return max(start, 0), min(stop, full)

    top, bottom = span(int(nonzero[:, 0].min()), int(nonzero[:, 0].max()), mask_h, height)
    left, right = span(int(nonzero[:, 1].min()), int(nonzero[:, 1].max()), mask_w, width)
    return left, top, right, bottom


def _bilinear_taps(start: int, stop: int, length: int, full: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices and weights of bilinear resampling (align_corners=False, as F.interpolate)."""
    position = (torch.arange(start, stop, dtype=torch.float64) + 0.5) * (length / full) - 0.5
    position = position.clamp(min=0)
    low = position.floor().long().clamp(max=length - 1)
    high = (low + 1).clamp(max=length - 1)
    return low, high, (position - low).float()


def resize_bilinear_window(mask: torch.Tensor, size: tuple[int, int], box: tuple[int, int, int, int]) -> torch.Tensor:
    """The window `box` of `mask` resized bilinearly to `size` (w, h), without the rest of the photo."""
    left, top, right, bottom = box
    width, height = size
    mask_h, mask_w = mask.shape
    y0, y1, fy = _bilinear_taps(top, bottom, mask_h, height)
    x0, x1, fx = _bilinear_taps(left, right, mask_w, width)
    rows = mask[y0] * (1 - fy[:, None]) + mask[y1] * fy[:, None]
    return rows[:, x0] * (1 - fx[None, :]) + rows[:, x1] * fx[None, :]


def _resized_window(image: PIL.Image.Image, size: tuple[int, int], box: tuple[int, int, int, int]) -> PIL.Image.Image:
    """The window `box` of `image` resized to `size` (w, h), at the window's cost.

    Pillow resizes in two 8-bit passes, horizontal then vertical; these are the same passes, each
    limited to the window. (Pillow's own `box=` limits rows with different vertical taps in Pillow 13,
    up to 40 levels off; a box along the rows alone matches, hence the transposes.)
    """
    if image.size == size:
        return image.crop(box)
    left, top, right, bottom = box
    width, height = size
    source_w, source_h = image.size
    rows = image.resize(
        (right - left, source_h), PIL.Image.LANCZOS,
        box=(left * source_w / width, 0, right * source_w / width, source_h),
    )
    columns = rows.transpose(PIL.Image.Transpose.TRANSPOSE).resize(
        (bottom - top, right - left), PIL.Image.LANCZOS,
        box=(top * source_h / height, 0, bottom * source_h / height, right - left),
    )
    return columns.transpose(PIL.Image.Transpose.TRANSPOSE)
