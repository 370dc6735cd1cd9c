"""Which model family a `--model` names, and so its own sampling settings, read from its files alone.

`explain` says which steps and guidance a cure would use without loading any weights: a diffusers
folder says its family in model_index.json (and FLUX's transformer config whether it has a guidance
embedding, dev, or none, schnell); a single .safetensors file by its tensor names; a Hub id by its cached
model_index.json, or else by its name. A loaded model says the same through `backbone.model_defaults`.
"""

from __future__ import annotations

import json
from pathlib import Path

from freecure_edit.models.defaults import (
    FLUX_DEV_DEFAULTS,
    FLUX_SCHNELL_DEFAULTS,
    SDXL_DEFAULTS,
    STABLE_DIFFUSION_DEFAULTS,
    ModelDefaults,
)

_BY_KIND = {"sd": STABLE_DIFFUSION_DEFAULTS, "sdxl": SDXL_DEFAULTS}


def model_defaults_for(model: str, model_config: str | None = None) -> ModelDefaults:
    """The sampling settings a cure with `model` (as `--model` takes it) uses where the user gives none."""
    kind, guidance_embeds = _family(model, model_config)
    if kind == "flux":
        return FLUX_DEV_DEFAULTS if guidance_embeds else FLUX_SCHNELL_DEFAULTS
    return _BY_KIND[kind]


def _family(model: str, model_config: str | None) -> tuple[str, bool]:
    path = Path(model).expanduser()
    if path.is_dir():
        return _folder_family(path)
    if path.is_file():
        if path.suffix.lower() == ".safetensors":
            return _file_family(path)
        if model_config is not None and Path(model_config).expanduser().is_dir():
            return _folder_family(Path(model_config).expanduser())
        return "sd", False
    cached = _cached_folder(model)
    if cached is not None:
        return _folder_family(cached)
    name = model.lower()
    if "flux" in name:
        return "flux", "schnell" not in name
    return ("sdxl" if "xl" in name else "sd"), False


def _folder_family(folder: Path) -> tuple[str, bool]:
    from freecure_edit.models.loading import SUPPORTED_PIPELINES

    index = _read_json(folder / "model_index.json")
    kind = SUPPORTED_PIPELINES.get(index.get("_class_name", ""), "sd")
    if kind != "flux":
        return kind, False
    transformer = _read_json(folder / "transformer" / "config.json")
    return kind, bool(transformer.get("guidance_embeds", True))


def _file_family(path: Path) -> tuple[str, bool]:
    from safetensors import safe_open

    from freecure_edit.models.flux import _GUIDANCE_MARKERS, is_flux_transformer_key

    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
    if any(key.startswith("conditioner.embedders.1.") for key in keys):
        return "sdxl", False
    if any(is_flux_transformer_key(key) for key in keys):
        return "flux", any(key.startswith(_GUIDANCE_MARKERS) for key in keys)
    return "sd", False


def _cached_folder(model_id: str) -> Path | None:
    if model_id.count("/") != 1:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, "model_index.json")
    except Exception:  # an unusual id or cache layout: fall back on the name
        return None
    return Path(found).parent if isinstance(found, str) else None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
