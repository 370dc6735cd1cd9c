"""Mask operations on (..., H, W) float tensors in [0, 1]: resizing to any grid, dilation, feathering."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F


def _axis_weights(source: int, target: int) -> torch.Tensor:
    """(target, source) resampling weights along one axis.

    Shrinking: area weights. Target cell i spans source coordinates [i*s/t, (i+1)*s/t) and takes the
    mean of the source over that span, counting a partly covered pixel by the covered fraction. Where
    the grids align, a cell fully inside a region gets exactly 1 and a cell outside exactly 0.
    Growing: linear interpolation between pixel centres (align_corners=False), so edges stay smooth.
    """
    if target <= source:
        scale = source / target
        low = torch.arange(target, dtype=torch.float64) * scale
        high = low + scale
        pixel = torch.arange(source, dtype=torch.float64)
        overlap = torch.minimum(high[:, None], pixel[None, :] + 1) - torch.maximum(low[:, None], pixel[None, :])
        overlap = overlap.clamp_(min=0)
        # Divide by the row sum, not by `scale`: for aligned grids the sum is a whole number, so the
        # weights of a fully covered cell add up to exactly 1.
        return overlap / overlap.sum(dim=1, keepdim=True)
    centres = ((torch.arange(target, dtype=torch.float64) + 0.5) * source / target - 0.5).clamp(0, source - 1)
    left = centres.floor().long()
    right = (left + 1).clamp(max=source - 1)
    fraction = centres - left
    weights = torch.zeros(target, source, dtype=torch.float64)
    rows = torch.arange(target)
    weights[rows, left] += 1 - fraction
    weights[rows, right] += fraction
    return weights


def resize_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`mask` (..., H, W) resampled to (..., height, width): area averaging where the grid shrinks,
    linear interpolation where it grows (see `_axis_weights`). Any aspect ratio on either side."""
    if height < 1 or width < 1:
        raise ValueError(f"cannot resize a mask to {height}x{width}")
    source_height, source_width = mask.shape[-2:]
    if (source_height, source_width) == (height, width):
        return mask.clone()
    rows = _axis_weights(source_height, height).to(mask.device)
    columns = _axis_weights(source_width, width).to(mask.device)
    resized = rows @ mask.to(torch.float64) @ columns.T
    return resized.clamp_(0, 1).to(mask.dtype if mask.is_floating_point() else torch.float32)


def _as_batch(mask: torch.Tensor) -> torch.Tensor:
    return mask.reshape(-1, 1, *mask.shape[-2:]).float()


def dilate(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Grow the mask by `pixels` in every direction (soft values grow as their local maximum).

    Alternating 3x3 square and cross steps grow an octagon, close to a disk, at the cost of one small
    max-pool per pixel of growth instead of a large disk-shaped kernel.
    """
    if pixels <= 0:
        return mask.clone()
    grown = _as_batch(mask)
    for step in range(pixels):
        if step % 2 == 0:
            grown = F.max_pool2d(grown, 3, stride=1, padding=1)
        else:
            horizontal = F.max_pool2d(grown, (1, 3), stride=1, padding=(0, 1))
            vertical = F.max_pool2d(grown, (3, 1), stride=1, padding=(1, 0))
            grown = torch.maximum(horizontal, vertical)
    return grown.reshape(mask.shape).to(mask.dtype)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def feather(mask: torch.Tensor, pixels: float) -> torch.Tensor:
    """Soften the mask's edge over about `pixels` (Gaussian blur with sigma = pixels / 2).

    The image border is padded by repetition, so a region that touches the border keeps full weight
    there instead of fading as if the outside were empty.
    """
    if pixels <= 0:
        return mask.clone()
    kernel = _gaussian_kernel(pixels / 2).to(mask.device)
    radius = kernel.numel() // 2
    blurred = _as_batch(mask)
    blurred = F.conv2d(F.pad(blurred, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    blurred = F.conv2d(F.pad(blurred, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return blurred.reshape(mask.shape).clamp_(0, 1).to(mask.dtype)


def label_region(parse: dict[str, torch.Tensor], labels: Iterable[str], shape: tuple[int, int]) -> torch.Tensor:
    """Probability that a pixel is any of `labels`: the sum of their maps, as parser classes exclude
    each other ("eyes" = l_eye + r_eye). Labels the parse lacks count as empty."""
    region = torch.zeros(shape, dtype=torch.float32)
    for label in labels:
        if label in parse:
            label_map = parse[label].float().cpu()
            if label_map.shape != region.shape:
                label_map = resize_mask(label_map, *shape)
            region += label_map
    return region.clamp_(0, 1)
