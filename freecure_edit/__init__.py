"""freecure-edit: cure missing facial attributes in existing photos, training-free.

Importing this package is cheap: torch and diffusers load only when a public name that needs them is
first used, so that `freecure-edit --help` and scripts that only parse prompts stay fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY_NAMES = {
    "FreeCure": "freecure_edit.api",
    "CureConfig": "freecure_edit.config",
    "CureResult": "freecure_edit.result",
    "CureCallbacks": "freecure_edit.callbacks",
    "parse_prompt": "freecure_edit.prompts",
    "load_parser": "freecure_edit.masks",
    "load_image": "freecure_edit.imageio",
    "save_image": "freecure_edit.imageio",
    "invert": "freecure_edit.inversion",
    "Inversion": "freecure_edit.inversion",
    "load_pipeline": "freecure_edit.models.loading",
    "FreeCureError": "freecure_edit.errors",
    "InputImageError": "freecure_edit.errors",
    "ModelNotFoundError": "freecure_edit.errors",
    "ConfigurationError": "freecure_edit.errors",
}

__all__ = sorted(_LAZY_NAMES) + ["__version__"]


def __getattr__(name: str):
    module_name = _LAZY_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'freecure_edit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
