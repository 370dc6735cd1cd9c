"""Face parsers by name: `load_parser("segformer")`, `load_parser("bisenet", "79999_iter.pth")`."""

from __future__ import annotations

import importlib
import inspect

import torch

from freecure_edit.errors import ConfigurationError
from freecure_edit.masks.base import FaceParser

# Backends are imported on first use: transformers and segment-anything are slow to import.
_BACKENDS: dict[str, tuple[str, str]] = {
    "segformer": ("freecure_edit.masks.segformer", "SegFormerParser"),
    "bisenet": ("freecure_edit.masks.bisenet", "BiSeNetParser"),
    "sam": ("freecure_edit.masks.sam", "SamRefinedParser"),
}
DEFAULT_PARSER = "segformer"


def available_parsers() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def load_parser(name: str, model: str | None = None, device: str | torch.device | None = None, **options) -> FaceParser:
    """The parser `name` (segformer, bisenet or sam) with `model` (a Hub id or a local path; None for
    the backend's default) on `device`. Options are the backend's own (label_order, input_size;
    for sam: base, base_model, base_options, refine_labels, points, box_margin)."""
    key = str(name).strip().lower()
    if key not in _BACKENDS:
        raise ConfigurationError(f"unknown face parser {name!r}; choose one of {', '.join(_BACKENDS)}")
    module_name, class_name = _BACKENDS[key]
    backend = getattr(importlib.import_module(module_name), class_name)
    accepted = set(inspect.signature(backend.__init__).parameters) - {"self", "model", "device"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigurationError(
            f"the {key} parser has no option {', '.join(unknown)}; its options are {', '.join(sorted(accepted))}"
        )
    return backend(model=model, device=device, **options)
