"""The spatial grid behind an attention layer's token sequence, and resizing onto it.

A UNet level holds the latent at h/2^k x w/2^k, rounded up, because each downsampler is a stride-2
convolution with padding 1 (out = ceil(in / 2)); the up path upsamples back to the same sizes. Tokens are
the grid's positions in row-major order, so a layer's grid follows from its sequence length alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def layer_grid(sequence_length: int, latent_size: tuple[int, int]) -> tuple[int, int]:
    """(rows, columns) of the UNet level whose token count is `sequence_length`."""
    latent_h, latent_w = latent_size
    rows, cols = latent_h, latent_w
    while True:
        if rows * cols == sequence_length:
            return rows, cols
        if rows == 1 and cols == 1:
            break
        rows, cols = (rows + 1) // 2, (cols + 1) // 2
    raise ValueError(
        f"an attention layer with {sequence_length} positions matches no level of a {latent_h}x{latent_w} "
        "latent; the controller's latent_size must be the size of the latents passed to the UNet"
    )


def resize_mask_to_grid(mask: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """A (H, W) mask at any resolution as one value per grid position, flattened row-major.

    Area interpolation averages the mask over each cell, so a cell half inside the mask gets 0.5 and FASA
    sees it as a soft mask; nearest-neighbour (the authors' choice) would drop or keep whole cells by where
    a single sample falls, and thin regions such as eyes vanish on coarse grids.
    """
    resized = F.interpolate(mask[None, None].float(), size=grid, mode="area")
    return resized[0, 0].reshape(-1)


def resize_map_to_latent(attention_map: torch.Tensor, latent_size: tuple[int, int]) -> torch.Tensor:
    """A (rows, cols) map from a coarse level brought up to the latent grid, bilinearly so it stays smooth."""
    if tuple(attention_map.shape) == tuple(latent_size):
        return attention_map
    resized = F.interpolate(attention_map[None, None], size=latent_size, mode="bilinear", align_corners=False)
    return resized[0, 0]
