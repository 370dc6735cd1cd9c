"""freecure-edit: cure missing facial attributes in existing photos, training-free.

Importing this package is cheap: torch and diffusers load only when a public name that needs them is
first used, so that `freecure-edit --help` and scripts that only parse prompts stay fast.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys

__version__ = "0.1.0"

_LAZY_NAMES = {
    "FreeCure": "freecure_edit.api",
    "CureConfig": "freecure_edit.cure.config",
    "CureResult": "freecure_edit.cure.result",
    "CureCallbacks": "freecure_edit.cure.callbacks",
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


# Module paths from before the package was arranged in folders (cure/, models/, testing/, imageio/),
# so that scripts written against them keep importing. Nothing inside the project uses them
# (tests/test_layout.py checks that).
MOVED_MODULES = {
    "freecure_edit.callbacks": "freecure_edit.cure.callbacks",
    "freecure_edit.compose": "freecure_edit.imageio.compose",
    "freecure_edit.config": "freecure_edit.cure.config",
    "freecure_edit.corrections": "freecure_edit.cure.corrections",
    "freecure_edit.devices": "freecure_edit.models.devices",
    "freecure_edit.estimate": "freecure_edit.cure.estimate",
    "freecure_edit.gray_photos": "freecure_edit.imageio.gray_photos",
    "freecure_edit.io": "freecure_edit.imageio",
    "freecure_edit.loading": "freecure_edit.models.loading",
    "freecure_edit.loading_flux": "freecure_edit.models.flux",
    "freecure_edit.loading_flux_bfl": "freecure_edit.models.flux_bfl",
    "freecure_edit.locations": "freecure_edit.models.locations",
    "freecure_edit.model_family": "freecure_edit.models.family",
    "freecure_edit.output_files": "freecure_edit.imageio.output_files",
    "freecure_edit.outputs": "freecure_edit.imageio.output_checks",
    "freecure_edit.pass_plan": "freecure_edit.cure.pass_plan",
    "freecure_edit.phases": "freecure_edit.cure.phases",
    "freecure_edit.pipeline": "freecure_edit.cure.pipeline",
    "freecure_edit.presets": "freecure_edit.cure.presets",
    "freecure_edit.refine": "freecure_edit.cure.refine",
    "freecure_edit.result": "freecure_edit.cure.result",
    "freecure_edit.rofa": "freecure_edit.cure.rofa",
    "freecure_edit.testing_flux": "freecure_edit.testing.flux",
    "freecure_edit.testing_flux_bfl": "freecure_edit.testing.flux_bfl",
    "freecure_edit.testing_single_file": "freecure_edit.testing.single_file",
    "freecure_edit.unchanged": "freecure_edit.cure.unchanged",
}


class _MovedModuleFinder:
    """Imports an old module path as its new module (the same object, not a copy)."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedModuleFinder)

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module):
        # The import system hands back whatever sys.modules holds once this returns: the new module,
        # whose own name and spec stay untouched.
        sys.modules[module.__name__] = importlib.import_module(MOVED_MODULES[module.__name__])


if not any(finder is _MovedModuleFinder for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder)
