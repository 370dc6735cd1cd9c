"""Hardened image input and output; the public face is `freecure_edit.io`.

Loading: opening.py (refusals), pixels.py (to 8-bit), colour.py (ICC), metadata.py (orientation, EXIF),
loaded.py (LoadedImage). Saving: paths.py, atomic.py, parameters.py, saving.py.
"""

from __future__ import annotations

from freecure_edit.imageio.loaded import LoadedImage, load_image
from freecure_edit.imageio.opening import DEFAULT_MAX_PIXELS, SUPPORTED_INPUT_FORMATS
from freecure_edit.imageio.parameters import PARAMETERS_KEY, read_parameters
from freecure_edit.imageio.paths import OUTPUT_FORMATS, default_output_path, output_format_for
from freecure_edit.imageio.saving import save_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "OUTPUT_FORMATS",
    "PARAMETERS_KEY",
    "SUPPORTED_INPUT_FORMATS",
    "LoadedImage",
    "default_output_path",
    "load_image",
    "output_format_for",
    "read_parameters",
    "save_image",
]
