"""Where the command line looks for models on disk; read from the environment at each call.

- The Hugging Face cache: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
  ~/.cache/huggingface/hub (huggingface_hub's own order; computed here because huggingface_hub reads it
  once, at import).
- SAM checkpoints, which no hub serves under a stable id: the current folder, then freecure-edit's own
  folder, $FREECURE_EDIT_HOME, else $XDG_CACHE_HOME/freecure-edit, else ~/.cache/freecure-edit.
- insightface packs: freecure_edit.faces.packs ($INSIGHTFACE_HOME, else ~/.insightface).
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENVIRONMENT_VARIABLE = "FREECURE_EDIT_HOME"
# The released segment-anything checkpoints, smallest (and fastest) first: it is the one to prefer.
SAM_CHECKPOINT_NAMES = ("sam_vit_b_01ec64.pth", "sam_vit_l_0b3195.pth", "sam_vit_h_4b8939.pth")


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()


def hub_cache_dir() -> Path:
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME")
    return (Path(home).expanduser() if home else _cache_root() / "huggingface") / "hub"


def freecure_home() -> Path:
    explicit = os.environ.get(HOME_ENVIRONMENT_VARIABLE)
    return Path(explicit).expanduser() if explicit else _cache_root() / "freecure-edit"


def sam_search_dirs() -> list[Path]:
    return [Path.cwd(), freecure_home()]


def find_sam_checkpoint() -> Path | None:
    """The first released SAM checkpoint found in the search folders, smallest model first."""
    for name in SAM_CHECKPOINT_NAMES:
        for folder in sam_search_dirs():
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None
