"""SAM refinement: a coarse region or a heat map in, a tight binary mask out.

Parsers are trained on aligned faces and blur the edges of hair and accessories; segment-anything
follows the image's own edges. It is prompted with a box and points per blob of a parser region, or
with points at the peaks of a heat map (the foundation branch's cross-attention of an attribute).
The `sam` parser runs a base parser and refines the labels where edges matter most.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from freecure_edit.errors import ConfigurationError
from freecure_edit.masks.base import CANONICAL_LABELS, FaceParser, resolve_device, rgb_image
from freecure_edit.masks.ops import resize_mask
from freecure_edit.masks.sam_build import load_sam
from freecure_edit.masks.sam_prompts import (
    bounding_box,
    connected_components,
    expand_box,
    interior_depth,
    peak_points,
)

# Hair and accessories: the regions whose outline a parser gets least right.
DEFAULT_REFINED_LABELS: tuple[str, ...] = ("hair", "hat", "eye_g", "ear_r", "neck_l")


def _normalised(heatmap: torch.Tensor) -> torch.Tensor:
    low, high = float(heatmap.min()), float(heatmap.max())
    if high <= low:
        return torch.zeros_like(heatmap)
    return (heatmap - low) / (high - low)


class SamRefiner:
    """Tightens coarse masks with segment-anything's SamPredictor.

    `box_margin`: SAM's mask is kept within the prompt box grown by this fraction of its size, so a
    stray segment elsewhere in the image cannot enter the mask.
    """

    def __init__(self, sam: torch.nn.Module, device: str | torch.device | None = None, box_margin: float = 0.1) -> None:
        from segment_anything import SamPredictor

        self.device = resolve_device(device)
        self.predictor = SamPredictor(sam.to(self.device).eval())
        self.box_margin = box_margin
        self._image_key: tuple | None = None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None, device: str | torch.device | None = None,
                        box_margin: float = 0.1) -> SamRefiner:
        return cls(load_sam(path), device=device, box_margin=box_margin)

    def _set_image(self, image: Image.Image) -> None:
        # The image encoder is the costly part: refining several attributes of one photo encodes it once.
        key = (image.size, hashlib.sha1(image.tobytes()).hexdigest())
        if key != self._image_key:
            self.predictor.set_image(np.asarray(image))
            self._image_key = key

    def _predict(self, points: list[tuple[float, float]], box: tuple[int, int, int, int] | None) -> torch.Tensor:
        coords = np.array(points, dtype=np.float32) if points else None
        labels = np.ones(len(points), dtype=np.int64) if points else None
        masks, scores, _ = self.predictor.predict(
            point_coords=coords,
            point_labels=labels,
            box=None if box is None else np.array(box, dtype=np.float32),
            # A box is unambiguous; points alone may mean a part or the whole, so let SAM offer three.
            multimask_output=box is None,
        )
        return torch.from_numpy(masks[int(np.argmax(scores))])

    def _refine_blob(self, blob: torch.Tensor, heat: torch.Tensor | None, points: int) -> torch.Tensor:
        height, width = blob.shape
        box = bounding_box(blob)
        guided = heat * blob if heat is not None else None
        score = guided if guided is not None and float(guided.max()) > 0 else interior_depth(blob)
        spacing = max(2, round(0.25 * min(box[2] - box[0], box[3] - box[1])))
        mask = self._predict(peak_points(score, points, spacing), box)
        x0, y0, x1, y1 = expand_box(box, self.box_margin, height, width)
        kept = torch.zeros_like(blob)
        kept[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
        # SAM found nothing of its own: the coarse region is still better than no mask.
        return kept if kept.any() else blob

    @torch.no_grad()
    def refine(self, image: Image.Image, region: torch.Tensor | None = None, heatmap: torch.Tensor | None = None,
               points: int = 3) -> torch.Tensor:
        """A (H, W) binary float mask of `image`, prompted by `region` (any size, in [0, 1]; pixels at
        0.5 or above are in) and/or `heatmap` (any size, min-max normalised). With a region, each of
        its blobs gets a box and `points` points; with a heat map alone, points at its peaks."""
        if region is None and heatmap is None:
            raise ConfigurationError("SAM refinement needs a region or a heat map to prompt with")
        if points < 0:
            raise ConfigurationError(f"SAM points must be >= 0, got {points}")
        photo = rgb_image(image)
        height, width = photo.height, photo.width
        heat = None if heatmap is None else _normalised(resize_mask(heatmap.detach().float().cpu(), height, width))
        if region is None:
            if heat is None or float(heat.max()) <= 0:
                return torch.zeros(height, width)
            self._set_image(photo)
            spacing = max(2, round(0.05 * min(height, width)))
            return self._predict(peak_points(heat, max(points, 1), spacing), None).float()
        coarse = resize_mask(region.detach().float().cpu(), height, width) >= 0.5
        result = torch.zeros(height, width, dtype=torch.bool)
        blobs = connected_components(coarse)
        if blobs:
            self._set_image(photo)
        for blob in blobs:
            result |= self._refine_blob(blob, heat, points)
        return result.float()


class SamRefinedParser(FaceParser):
    """A base parser whose hair and accessory maps are tightened by SAM (binary maps for those labels)."""

    name = "sam"

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
        base: str | FaceParser = "segformer",
        base_model: str | os.PathLike | None = None,
        refine_labels: Sequence[str] = DEFAULT_REFINED_LABELS,
        points: int = 3,
        box_margin: float = 0.1,
        base_options: dict | None = None,
    ) -> None:
        unknown = [label for label in refine_labels if label not in CANONICAL_LABELS]
        if unknown:
            raise ConfigurationError(
                f"refine_labels {unknown} are not face-parser labels; use names from {CANONICAL_LABELS}"
            )
        self.refiner = SamRefiner.from_checkpoint(model, device=device, box_margin=box_margin)
        if isinstance(base, FaceParser):
            self.base = base
        else:
            from freecure_edit.masks.registry import load_parser

            if str(base).lower() == "sam":
                raise ConfigurationError("the sam parser needs another parser as its base (segformer or bisenet)")
            self.base = load_parser(base, base_model, device=device, **(base_options or {}))
        self.refine_labels = tuple(refine_labels)
        self.points = points

    @property
    def labels(self) -> tuple[str, ...]:
        return self.base.labels

    def _parse_rgb(self, image: Image.Image) -> dict[str, torch.Tensor]:
        maps = self.base.parse(image)
        for label in self.refine_labels:
            if label in maps and float(maps[label].max()) >= 0.5:
                maps[label] = self.refiner.refine(image, region=maps[label], points=self.points)
        return maps
