"""Helpers for tests of the cure: a face parser whose regions are known in advance."""

from __future__ import annotations

import torch
from PIL import Image

from freecure_edit.masks import CANONICAL_LABELS, FaceParser


class FixedRegionParser(FaceParser):
    """A parser that reports fixed regions, given as fractions (x0, y0, x1, y1) of the image, per label.

    The cure's own properties (what FASA changes, where it pastes) need regions known in advance; the
    real parsers' loading and label mapping are tested on their own in test_masks_*.
    """

    name = "fixed"

    def __init__(self, regions: dict[str, tuple[float, float, float, float]]):
        self.regions = regions
        self.calls = 0

    @property
    def labels(self) -> tuple[str, ...]:
        return CANONICAL_LABELS

    def _parse_rgb(self, image: Image.Image) -> dict[str, torch.Tensor]:
        self.calls += 1
        width, height = image.size
        maps = {label: torch.zeros(height, width) for label in CANONICAL_LABELS}
        for label, (x0, y0, x1, y1) in self.regions.items():
            maps[label][round(y0 * height):round(y1 * height), round(x0 * width):round(x1 * width)] = 1.0
        return maps


HAIR_ON_TOP = {"hair": (0.0, 0.0, 1.0, 0.375), "skin": (0.25, 0.375, 0.75, 0.875)}
