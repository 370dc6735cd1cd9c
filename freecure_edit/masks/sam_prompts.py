"""Where to prompt SAM: boxes and points from a coarse region or a heat map.

A parser region can hold several blobs (two earrings, two lenses); one box around all of them would
ask SAM for everything in between, so each blob is prompted on its own. Points go where the region is
thickest, far from its uncertain edge, or at the peaks of a heat map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from freecure_edit.masks.ops import resize_mask

# Components are found on a grid of at most this side: blobs closer than a cell merge, which is fine
# for prompting, and the label propagation stays a few milliseconds.
_COMPONENT_GRID = 128


def connected_components(region: torch.Tensor, min_fraction: float = 0.05, limit: int = 6) -> list[torch.Tensor]:
    """The blobs of a boolean (H, W) region, largest first: at most `limit`, and none smaller than
    `min_fraction` of the largest (parser specks are not worth a SAM call)."""
    height, width = region.shape
    scale = min(1.0, _COMPONENT_GRID / max(height, width))
    grid_h, grid_w = max(1, round(height * scale)), max(1, round(width * scale))
    occupied = resize_mask(region.float(), grid_h, grid_w) > 0
    labels = torch.arange(1, grid_h * grid_w + 1, dtype=torch.float32).view(1, 1, grid_h, grid_w)
    labels = labels * occupied
    # Every occupied cell takes the largest label among its neighbours until nothing changes.
    while True:
        spread = F.max_pool2d(labels, 3, stride=1, padding=1) * occupied
        if torch.equal(spread, labels):
            break
        labels = spread
    rows = torch.arange(height) * grid_h // height
    columns = torch.arange(width) * grid_w // width
    full = labels[0, 0][rows][:, columns]
    blobs = [region & (full == value) for value in torch.unique(labels[labels > 0])]
    blobs.sort(key=lambda blob: int(blob.sum()), reverse=True)
    if not blobs:
        return []
    smallest = min_fraction * int(blobs[0].sum())
    return [blob for blob in blobs[:limit] if int(blob.sum()) >= smallest]


def bounding_box(region: torch.Tensor) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a non-empty boolean region, x1 and y1 exclusive."""
    ys, xs = torch.nonzero(region, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def expand_box(box: tuple[int, int, int, int], fraction: float, height: int, width: int) -> tuple[int, int, int, int]:
    """The box grown by `fraction` of its size on each side (at least 2 px), within the image."""
    x0, y0, x1, y1 = box
    dx = max(2, round((x1 - x0) * fraction))
    dy = max(2, round((y1 - y0) * fraction))
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)


def interior_depth(region: torch.Tensor) -> torch.Tensor:
    """For each pixel of a boolean region, how many 3x3 erosions it survives (chessboard distance to
    the outside); 0 outside. Computed on the region's box only."""
    depth = torch.zeros(region.shape, dtype=torch.float32)
    if not region.any():
        return depth
    x0, y0, x1, y1 = bounding_box(region)
    current = region[y0:y1, x0:x1].float()[None, None]
    local = torch.zeros_like(current)
    while current.any():
        local += current
        # Erosion is a min-pool; padding with zeros makes the box edge count as outside.
        current = -F.max_pool2d(-F.pad(current, (1, 1, 1, 1)), 3, stride=1)
    depth[y0:y1, x0:x1] = local[0, 0]
    return depth


def peak_points(score: torch.Tensor, count: int, min_distance: int) -> list[tuple[float, float]]:
    """Up to `count` (x, y) pixel centres at the highest positive values of `score`, each at least
    `min_distance` pixels from the ones before it."""
    remaining = score.float().clone()
    height, width = remaining.shape
    ys = torch.arange(height).view(-1, 1)
    xs = torch.arange(width).view(1, -1)
    points: list[tuple[float, float]] = []
    for _ in range(count):
        value, flat = remaining.flatten().max(dim=0)
        if float(value) <= 0:
            break
        y, x = divmod(int(flat), width)
        points.append((x + 0.5, y + 0.5))
        near = (ys - y) ** 2 + (xs - x) ** 2 < min_distance**2
        remaining[near] = 0
    return points
