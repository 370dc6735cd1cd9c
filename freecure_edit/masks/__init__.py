"""Attribute masks: face parsers by name, SAM refinement, and mask operations.

    parser = load_parser("segformer")                  # or "bisenet", "sam"
    masks = build_attribute_masks(parsed, parser.parse(photo), parser.parse(fd_image), dilation_px=4)
    resize_mask(masks.union, 64, 48)                   # any attention grid
    mask_overlay(photo, masks.per_attribute).save("masks.png")

May import errors.py and prompts/ only: never the method or a front end.
"""

from __future__ import annotations

from freecure_edit.masks.base import BISENET_LABEL_ORDER, CANONICAL_LABELS, FaceParser, canonical_label
from freecure_edit.masks.build import AttributeMasks, build_attribute_masks
from freecure_edit.masks.ops import dilate, feather, label_region, resize_mask
from freecure_edit.masks.overlay import mask_overlay
from freecure_edit.masks.registry import DEFAULT_PARSER, available_parsers, load_parser
from freecure_edit.masks.sam import SamRefinedParser, SamRefiner

__all__ = [
    "AttributeMasks",
    "BISENET_LABEL_ORDER",
    "CANONICAL_LABELS",
    "DEFAULT_PARSER",
    "FaceParser",
    "SamRefinedParser",
    "SamRefiner",
    "available_parsers",
    "build_attribute_masks",
    "canonical_label",
    "dilate",
    "feather",
    "label_region",
    "load_parser",
    "mask_overlay",
    "resize_mask",
]
