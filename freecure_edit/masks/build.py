"""One mask per spatial attribute, from the parse of the photo and of the foundation (FD) image.

An added or changed attribute covers its region in both images: where the old one was (it must be
repainted) and where the new one goes; `source` "photo" or "fd" keeps one image's region alone (to
measure which the cure needs: issue 27). A removed attribute covers the photo's region only, under
every source: the foundation image no longer has the thing, so its parse has nothing to say where.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from freecure_edit.errors import ConfigurationError
from freecure_edit.masks.ops import dilate, feather, label_region
from freecure_edit.prompts import ParsedPrompt

logger = logging.getLogger(__name__)

# Which parses draw an added or changed attribute's mask, and how the empty-mask warning names them.
SOURCES = {"both": "the photo or the foundation image", "photo": "the photo", "fd": "the foundation image"}


@dataclass
class AttributeMasks:
    """(H, W) float masks in [0, 1] at the photo parse's size, keyed by attribute name, and their union."""

    per_attribute: dict[str, torch.Tensor]
    union: torch.Tensor
    warnings: list[str] = field(default_factory=list)


def _shape_of(parse: dict[str, torch.Tensor]) -> tuple[int, int]:
    if not parse:
        raise ConfigurationError("the photo's parse has no label maps: the face parser found no classes")
    first = next(iter(parse.values()))
    return int(first.shape[-2]), int(first.shape[-1])


def _check_settings(dilation_px: int, feather_px: float, threshold: float | None, source: str = "both") -> None:
    if source not in SOURCES:
        raise ConfigurationError(f"unknown mask source {source!r}; use one of {', '.join(SOURCES)}")
    if not isinstance(dilation_px, int) or dilation_px < 0:
        raise ConfigurationError(f"mask dilation must be a whole number of pixels >= 0, got {dilation_px!r}")
    if feather_px < 0:
        raise ConfigurationError(f"mask feathering must be >= 0 pixels, got {feather_px!r}")
    if threshold is not None and not 0 < threshold <= 1:
        raise ConfigurationError(f"mask threshold must be in (0, 1], got {threshold!r}")


def build_attribute_masks(
    parsed: ParsedPrompt,
    photo_parse: dict[str, torch.Tensor],
    fd_parse: dict[str, torch.Tensor],
    *,
    source: str = "both",
    dilation_px: int = 0,
    feather_px: float = 0,
    threshold: float | None = 0.5,
) -> AttributeMasks:
    """Masks of `parsed`'s spatial attributes; abstract attributes get none.

    A region is the summed probability of the attribute's labels, binarised at `threshold` (None keeps
    it soft), then dilated by `dilation_px` and feathered over `feather_px`. The FD parse is resized
    to the photo parse's size when they differ. An attribute whose region has no pixel at 0.5 or
    above is reported in `warnings` (and logged): its mask is empty and it will not be cured. `source`
    says which parses an added or changed attribute's region comes from (see the module's note).
    """
    _check_settings(dilation_px, feather_px, threshold, source)
    shape = _shape_of(photo_parse)
    per_attribute: dict[str, torch.Tensor] = {}
    warnings: list[str] = []
    for attribute in parsed.spatial:
        region = _region(attribute, photo_parse, fd_parse, shape, source)
        if threshold is not None:
            region = (region >= threshold).float()
        if float(region.max()) < 0.5:
            where = "the photo" if attribute.remove else SOURCES[source]
            message = (
                f"the mask of {attribute.name!r} ({attribute.text!r}) is empty: the parser found no "
                f"{'/'.join(attribute.labels)} in {where}"
            )
            logger.warning(message)
            warnings.append(message)
        per_attribute[attribute.name] = feather(dilate(region, dilation_px), feather_px)
    union = torch.zeros(shape, dtype=torch.float32)
    for mask in per_attribute.values():
        union = torch.maximum(union, mask)
    return AttributeMasks(per_attribute=per_attribute, union=union, warnings=warnings)


def _region(attribute, photo_parse, fd_parse, shape, source: str) -> torch.Tensor:
    """The attribute's soft region from the parses `source` names (a removal: the photo's only)."""
    if attribute.remove or source == "photo":
        return label_region(photo_parse, attribute.labels, shape)
    in_foundation = label_region(fd_parse, attribute.labels, shape)
    if source == "fd":
        return in_foundation
    return torch.maximum(label_region(photo_parse, attribute.labels, shape), in_foundation)
