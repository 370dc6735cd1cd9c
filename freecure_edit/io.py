"""Image input and output for freecure-edit: load any photo for the model, save the cured result.

    img = load_image("photo.jpg")              # upright 8-bit sRGB in img.rgb, alpha in img.alpha
    cured = pipeline(img.rgb)                  # same size, sRGB
    save_image(img.restore(cured), default_output_path("photo.jpg"), source=img, parameters={...})
    read_parameters("photo.cured.png")         # the parameters back

Bad input raises InputImageError (exit code 3) with a one-line message naming the file; output
problems (unknown extension, existing file, the input itself) raise ConfigurationError. The code
lives in freecure_edit/imageio/, one concern per module.
"""

from __future__ import annotations

from freecure_edit.imageio import (
    DEFAULT_MAX_PIXELS,
    OUTPUT_FORMATS,
    PARAMETERS_KEY,
    SUPPORTED_INPUT_FORMATS,
    LoadedImage,
    default_output_path,
    load_image,
    output_format_for,
    read_parameters,
    save_image,
)



def pixel_limit(max_pixels: int | None) -> int | None:
    """The limit load_image takes from a setting as the command line has it: None for the default, 0 for
    no limit."""
    return DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None)


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "OUTPUT_FORMATS",
    "PARAMETERS_KEY",
    "SUPPORTED_INPUT_FORMATS",
    "LoadedImage",
    "default_output_path",
    "load_image",
    "output_format_for",
    "pixel_limit",
    "read_parameters",
    "save_image",
]
