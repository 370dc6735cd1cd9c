"""Affine warps that neither alias when they shrink nor touch more of the source than they need."""

from __future__ import annotations

import math

import cv2
import numpy as np

from freecure_edit.faces.geometry import affine_scale, apply_affine, compose_affine, invert_affine

# warpAffine samples point-wise: when it shrinks, it skips source pixels and aliases (moire in hair and
# fabric). A Gaussian blur first, with scikit-image's anti-aliasing width sigma = (1/scale - 1) / 2,
# removes what the output cannot hold while keeping what it can: a crop enlarged and shrunk back comes
# out nearly unchanged, which an area-averaging reduction (a box filter) would soften.


def warp_affine(
    source: np.ndarray,
    matrix: np.ndarray,
    out_size: tuple[int, int],
    *,
    interpolation: int = cv2.INTER_CUBIC,
    border_mode: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """`source` (H, W) or (H, W, C) moved by `matrix` (2x3, source -> output pixels) into `out_size` (w, h).

    Outside the source, BORDER_CONSTANT gives 0.
    """
    scale = affine_scale(matrix)
    source, matrix = _cut_needed_region(source, matrix, out_size, scale)
    if scale < 1.0:
        sigma = (1.0 / scale - 1.0) / 2.0
        source = cv2.GaussianBlur(source, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=_blur_border(border_mode))
    return cv2.warpAffine(
        source, matrix, out_size, flags=interpolation, borderMode=border_mode, borderValue=0
    )


def _cut_needed_region(
    source: np.ndarray, matrix: np.ndarray, out_size: tuple[int, int], scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Only the part of the source the output samples, with room for the filters' reach.

    A crop from a 24-megapixel photo then costs what the crop costs. The cut is clipped at the source's
    edges, so a replicated or constant border is the same as on the whole source.
    """
    width, height = out_size
    corners = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [-0.5, height - 0.5], [width - 0.5, height - 0.5]])
    reach = apply_affine(invert_affine(matrix), corners)
    pad = math.ceil(4.0 / min(scale, 1.0)) + 2
    x0 = max(int(math.floor(reach[:, 0].min())) - pad, 0)
    y0 = max(int(math.floor(reach[:, 1].min())) - pad, 0)
    x1 = min(int(math.ceil(reach[:, 0].max())) + pad + 1, source.shape[1])
    y1 = min(int(math.ceil(reach[:, 1].max())) + pad + 1, source.shape[0])
    if x1 <= x0 or y1 <= y0:
        # The output sees none of the source: keep one pixel so the border still has something to repeat.
        x0, y0 = min(max(x0, 0), source.shape[1] - 1), min(max(y0, 0), source.shape[0] - 1)
        x1, y1 = x0 + 1, y0 + 1
    shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]])
    return source[y0:y1, x0:x1], compose_affine(matrix, shift)


def _blur_border(border_mode: int) -> int:
    """The blur's border that agrees with the warp's, so edge pixels are not darkened or brightened."""
    return cv2.BORDER_REPLICATE if border_mode == cv2.BORDER_REPLICATE else cv2.BORDER_CONSTANT
