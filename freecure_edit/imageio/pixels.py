"""Reduce any decoded image to 8-bit colour plus an optional alpha, saying what was lost on the way.

The colour part stays in the source's own colour space ("RGB", "L" or "CMYK") so that the ICC step can
pick the matching transform; turning it into sRGB is `colour.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

_WIDE_INTEGER_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


@dataclass(frozen=True)
class EightBit:
    colour: Image.Image  # mode "RGB", "L" or "CMYK"; always a new image, never the caller's
    alpha: Image.Image | None  # mode "L"
    notes: tuple[str, ...]


def _to_uint8(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _stretched(values: np.ndarray, low: float, high: float) -> Image.Image:
    span = (high - low) or 1.0
    return _to_uint8((values.astype(np.float64) - low) * (255.0 / span))


def _reduce_integers(image: Image.Image, notes: list[str]) -> Image.Image:
    values = np.asarray(image)
    low, high = int(values.min()), int(values.max())
    if image.mode != "I" or (low >= 0 and high <= 65535):
        # Pillow's own I;16 -> L conversion clips at 255 instead of scaling; 65535 must map to 255.
        notes.append("16-bit input reduced to 8-bit")
        return _to_uint8(values.astype(np.float64) * (255.0 / 65535.0))
    # A 32-bit integer image has no declared range: map what is there onto 0..255.
    notes.append(f"32-bit integer input stretched from {low}..{high} to 8-bit")
    return _stretched(values, low, high)


def _reduce_floats(image: Image.Image, notes: list[str]) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} NaN or infinite pixel values replaced by 0")
        values = np.where(finite, values, 0.0)
    low, high = float(values.min()), float(values.max())
    # Float images come either normalised (0..1, the scientific convention) or on the 8-bit scale;
    # anything else has no convention, so its actual range is stretched.
    if low >= 0.0 and high <= 1.0:
        notes.append("floating-point input read as 0..1 and reduced to 8-bit")
        return _to_uint8(values * 255.0)
    if low >= 0.0 and high <= 255.0:
        notes.append("floating-point input read as 0..255 and reduced to 8-bit")
        return _to_uint8(values)
    notes.append(f"floating-point input stretched from {low:g}..{high:g} to 8-bit")
    return _stretched(values, low, high)


def _without_palette(image: Image.Image, notes: list[str]) -> Image.Image:
    notes.append("palette image converted to RGB")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def to_eight_bit(image: Image.Image, *, had_16_bit_channels: bool = False) -> EightBit:
    notes: list[str] = []
    if had_16_bit_channels and image.mode not in _WIDE_INTEGER_MODES:
        notes.append("16-bit input reduced to 8-bit")
    mode = image.mode
    if mode in ("P", "PA"):
        image = _without_palette(image, notes)
    elif mode in _WIDE_INTEGER_MODES:
        image = _reduce_integers(image, notes)
    elif mode == "F":
        image = _reduce_floats(image, notes)
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("RGBa", "La"):
        # Premultiplied alpha: un-premultiply before the alpha is taken apart from the colour.
        image = image.convert("RGBA" if mode == "RGBa" else "LA")

    alpha = None
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
    elif image.mode in ("RGB", "L", "CMYK"):
        # convert() to the same mode copies, so the caller's image is never shared or altered.
        image = image.convert(image.mode)
    else:
        notes.append(f"{image.mode} image converted to RGB")
        image = image.convert("RGB")
    return EightBit(image, alpha, tuple(notes))
