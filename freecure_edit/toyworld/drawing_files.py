"""Drawings saved as PNGs that remember how they were drawn, so that the world can redraw them, and their
ideal edits, from the file alone (eval's `toy` metric does: it sees photos as files in a folder).

    save_drawing(draw(PortraitSpec(identity=3), seed=1), "toy.png")
    drawing_from_file("toy.png")   # the Drawing again, with its labels; None for any other image

The spec, seed and size sit in a PNG text chunk. A file whose pixels are no longer what they say (edited,
resized, saved again as JPEG) is refused with ValueError rather than redrawn as something it is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from freecure_edit.toyworld.world import FAMILIES, Drawing, PortraitSpec, draw

TEXT_KEY = "freecure-toyworld-drawing"


def save_drawing(drawing: Drawing, path) -> Path:
    """Write `drawing` as a PNG with its spec, seed and size."""
    if drawing.seed is None:
        raise ValueError("the drawing has no seed, so a file of it could not be redrawn")
    recipe = {"identity": drawing.spec.identity, **drawing.spec.attributes(), "seed": drawing.seed,
              "size": drawing.image.width}
    info = PngImagePlugin.PngInfo()
    info.add_text(TEXT_KEY, json.dumps(recipe, sort_keys=True))
    path = Path(path)
    drawing.image.save(path, format="PNG", pnginfo=info)
    return path


def drawing_from_file(path, size: int | None = None) -> Drawing | None:
    """The drawing a file written by `save_drawing` holds, redrawn at `size` (default: its own); None for
    an image without the text chunk. ValueError when the chunk is unreadable or the pixels disagree."""
    with Image.open(path) as opened:
        text = getattr(opened, "text", {}).get(TEXT_KEY) if opened.format == "PNG" else None
        if text is None:
            return None
        pixels = np.asarray(opened.convert("RGB"))
    try:
        recipe = json.loads(text)
        spec = PortraitSpec(identity=int(recipe["identity"]), **{family: recipe[family] for family in FAMILIES})
        seed, own_size = int(recipe["seed"]), int(recipe["size"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: its toy-world recipe cannot be read ({error})") from None
    drawing = draw(spec, seed, own_size)
    if pixels.shape != (own_size, own_size, 3) or not np.array_equal(pixels, np.asarray(drawing.image)):
        raise ValueError(f"{path}: its pixels are not the drawing its recipe describes (edited after drawing?)")
    return drawing if size is None or size == own_size else draw(spec, seed, size)


__all__ = ["TEXT_KEY", "drawing_from_file", "save_drawing"]
