"""Images in and out: load any photo for the model, blend the cured region back, save the result.

    img = load_image("photo.jpg")              # upright 8-bit sRGB in img.rgb, alpha in img.alpha
    cured = pipeline(img.rgb)                  # same size, sRGB
    save_image(img.restore(cured), default_output_path("photo.jpg"), source=img, parameters={...})
    read_parameters("photo.cured.png")         # the parameters back

Bad input raises InputImageError (exit code 3) with a one-line message naming the file; output
problems (unknown extension, existing file, the input itself) raise ConfigurationError.
Loading: opening.py (refusals), pixels.py (to 8-bit), colour.py (ICC), metadata.py (orientation, EXIF),
loaded.py (LoadedImage), gray_photos.py. Saving: paths.py, atomic.py, parameters.py, saving.py,
metadata_policy.py (what of the input's metadata an output carries: keep, strip-private, strip),
output_checks.py (before any model loads), output_files.py (what a cured file stores). compose.py
blends a cured region into the photo. May import errors.py and prompts/ only: never the method or a
front end. (`freecure_edit.io`, the old name of this package's public face, still imports.)
"""

from __future__ import annotations

from freecure_edit.imageio.loaded import LoadedImage, load_image
from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA, METADATA_POLICIES
from freecure_edit.imageio.opening import DEFAULT_MAX_PIXELS, SUPPORTED_INPUT_FORMATS, pixel_limit
from freecure_edit.imageio.parameters import PARAMETERS_KEY, read_parameters
from freecure_edit.imageio.paths import OUTPUT_FORMATS, default_output_path, output_format_for
from freecure_edit.imageio.saving import encoded_image, save_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_METADATA",
    "METADATA_POLICIES",
    "OUTPUT_FORMATS",
    "PARAMETERS_KEY",
    "SUPPORTED_INPUT_FORMATS",
    "LoadedImage",
    "default_output_path",
    "encoded_image",
    "load_image",
    "output_format_for",
    "pixel_limit",
    "read_parameters",
    "save_image",
]
