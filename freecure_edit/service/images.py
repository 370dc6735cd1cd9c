"""Images in and out of a service request: a mask painted in an editor or a web page, and PNGs sent
back as base64."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import PIL.Image

from freecure_edit.cure.callbacks import MaskContext
from freecure_edit.errors import InputImageError
from freecure_edit.imageio import load_image


def png_base64(image: PIL.Image.Image) -> str:
    buffer = io.BytesIO()
    profile = image.info.get("icc_profile")
    image.save(buffer, format="PNG", **({"icc_profile": profile} if profile else {}))
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def load_painted_mask(source: Path | bytes, photo_size: tuple[int, int], max_pixels: int | None,
                      warnings: list[str]) -> np.ndarray:
    """The mask as (H, W) floats in [0, 1]: its brightness, with transparent pixels counting as black, so
    that white strokes on a transparent layer work as well as a black-and-white image.

    Refused unless it is the photo's size (after the EXIF rotation of both): it is painted on the photo.
    """
    loaded = load_image(source, max_pixels=max_pixels)
    warnings.extend(f"mask: {text}" for text in loaded.warnings)
    if loaded.size != photo_size:
        raise InputImageError(
            f"the painted mask is {loaded.size[0]}x{loaded.size[1]} and the photo {photo_size[0]}x{photo_size[1]}; "
            "paint it over the whole photo"
        )
    brightness = np.asarray(loaded.rgb.convert("L"), dtype=np.float32) / 255.0
    if loaded.alpha is not None:
        brightness *= np.asarray(loaded.alpha, dtype=np.float32) / 255.0
    return brightness


def painted_masks(painted: np.ndarray):
    """An `on_masks` callback: the painted mask, brought into the cure's frame, for every attribute the
    cure has a region for (or as "painted" when the prompt names only expressions)."""

    def on_masks(context: MaskContext) -> dict:
        mask = context.from_photo(painted)
        names = [name for name in context.masks if name != "union"] or ["painted"]
        return {name: mask for name in names}

    return on_masks
