"""SAM refinement inside the cure: tight masks for hair edges and accessories.

For each spatial attribute, segment-anything is prompted with the parser's region (a box and points at
the peaks of the attribute's foundation cross-attention inside it) on the image where the attribute
is: the foundation image for an added or changed attribute, the photo for a removal. Its mask replaces
the parser's. Where the parser found nothing (a scarf it misses) and for things it has no label for
(a beard, a tattoo, a word it does not know), SAM is prompted from the attention peaks alone, and the mask is reported as coming from
attention, so that the user knows it is less certain.
"""

from __future__ import annotations

from dataclasses import replace

import PIL.Image
import torch

from freecure_edit.masks import AttributeMasks, dilate, feather
from freecure_edit.prompts import Attribute, ParsedPrompt
from freecure_edit.prompts.vocabulary import EXPRESSION

PARSER, SAM, ATTENTION = "parser", "sam", "attention"


def attention_placed(attribute: Attribute) -> bool:
    """Words no parser label covers but that have a place in the picture (a beard, a tattoo, a pipe);
    expressions are spread over the whole face and stay with APG alone."""
    return attribute.kind == "abstract" and not attribute.name.startswith(EXPRESSION)


def refine_masks(
    refiner,
    parsed: ParsedPrompt,
    masks: AttributeMasks,
    photo: PIL.Image.Image,
    fd_image: PIL.Image.Image,
    attention_maps: dict[str, torch.Tensor],
    dilation_px: int,
    feather_px: float,
) -> tuple[AttributeMasks, dict[str, str]]:
    """The masks with SAM's in place of the parser's, and where each mask came from."""
    per_attribute = dict(masks.per_attribute)
    sources = {name: PARSER for name in per_attribute}
    warnings = list(masks.warnings)
    for attribute in parsed.attributes:
        heat = attention_maps.get(attribute.name)
        image = photo if attribute.remove else fd_image
        region = per_attribute.get(attribute.name)
        if region is not None and float(region.max()) >= 0.5:
            refined = refiner.refine(image, region=region, heatmap=heat)
            source = SAM
        elif heat is not None and (attribute.kind == "spatial" or attention_placed(attribute)):
            refined = refiner.refine(image, heatmap=heat)
            source = ATTENTION
            warnings.append(
                f"the mask of {attribute.name!r} ({attribute.text!r}) comes from the foundation branch's "
                "attention, not from the parser: it is less certain"
            )
        else:
            continue
        per_attribute[attribute.name] = feather(dilate(refined, dilation_px), feather_px)
        sources[attribute.name] = source
    union = torch.zeros_like(masks.union)
    for mask in per_attribute.values():
        union = torch.maximum(union, mask)
    return replace(masks, per_attribute=per_attribute, union=union, warnings=warnings), sources
