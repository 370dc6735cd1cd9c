"""Where the committed toy models live inside the package."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_NAMES = ("sd", "parser", "judges")
# The toy FLUX (train_flux.py) has its own folder and manifest inside weights/; `train OUT --overwrite`
# keeps a flux/ folder it finds there.
FLUX_WEIGHTS_DIR = WEIGHTS_DIR / "flux"


def model_dir(name: str, root=None) -> Path:
    """The folder of toy model `name` ("sd", "parser", "judges") under `root` (default: the committed one).

    "sd" is a diffusers StableDiffusionPipeline folder, "parser" a transformers SegFormer folder,
    "judges" the judges' safetensors and config; "flux" the toy FLUX's FluxPipeline folder."""
    if name == "flux":
        return Path(root) / "flux" if root is not None else FLUX_WEIGHTS_DIR
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown toy model {name!r}; use one of {MODEL_NAMES}")
    return (Path(root) if root is not None else WEIGHTS_DIR) / name
