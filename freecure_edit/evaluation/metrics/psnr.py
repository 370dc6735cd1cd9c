"""PSNR outside the cure's mask: how much of the photo that the prompt does not concern was kept.

The mask is the method's own when it has one (the cure's union mask), else the cure's union mask for
the same photo and prompt, so that every method is judged on the region the cure leaves alone.
Identical pixels would be an infinite PSNR; they count as PSNR_CAP, so that averages stay finite.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from freecure_edit.evaluation.metrics.base import Metric, Sample

PSNR_CAP = 100.0


def psnr_outside(photo, output, mask: torch.Tensor | None) -> float | None:
    """PSNR in dB (8-bit range) over the pixels where `mask` < 0.5; None when no pixel is outside."""
    first = np.asarray(photo.convert("RGB"), dtype=np.float64)
    second = np.asarray(output.convert("RGB").resize(photo.size), dtype=np.float64)
    keep = np.ones(first.shape[:2], dtype=bool)
    if mask is not None:
        from freecure_edit.masks import resize_mask

        resized = resize_mask(mask.detach().float().cpu(), first.shape[0], first.shape[1])
        keep = resized.numpy() < 0.5
    if not keep.any():
        return None
    error = float(((first - second)[keep] ** 2).mean())
    if error == 0.0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(255.0**2 / error))


class PsnrOutsideMaskMetric(Metric):
    name = "psnr"
    provides = ("psnr_outside_mask",)

    def score(self, sample: Sample) -> dict[str, float | None]:
        mask = sample.mask()
        if mask is None:
            sample.warnings.append("no cure mask for this photo and prompt, so PSNR over the whole image")
        return {"psnr_outside_mask": psnr_outside(sample.photo, sample.output, mask)}
