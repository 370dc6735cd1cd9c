"""Shared fixtures. Every test runs offline: no hub look-ups, tiny models built in-process."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
# The tiny models gain nothing from threads, and two xdist workers on two cores (plus the CLI's
# subprocesses) oversubscribe the CPU; set before torch is first imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import PIL.Image
import pytest

from freecure_edit.testing import save_tiny_pipeline


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory):
    """A factory: the saved diffusers folder of a tiny pipeline, built once per (kind, variant)."""
    folders = {}

    def folder(kind: str = "sd", variant: str = "smooth"):
        key = (kind, variant)
        if key not in folders:
            path = tmp_path_factory.mktemp(f"tiny-{kind}-{variant}")
            folders[key] = save_tiny_pipeline(kind, path, unet_variant=variant)
        return folders[key]

    return folder


@pytest.fixture(scope="session")
def load_tiny(tiny_model_folder):
    """A factory: a tiny pipeline loaded on the CPU through the project's own loader."""
    from freecure_edit.models.loading import load_pipeline

    def load(kind: str = "sd", variant: str = "smooth"):
        return load_pipeline(tiny_model_folder(kind, variant), device="cpu")

    return load


def random_photo(width: int, height: int, seed: int = 0) -> PIL.Image.Image:
    """A smooth random RGB image: noise blurred enough to look like content to an autoencoder."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((max(2, height // 8), max(2, width // 8), 3))
    image = PIL.Image.fromarray((coarse * 255).astype("uint8")).resize((width, height), PIL.Image.BICUBIC)
    return image


@pytest.fixture
def photo():
    return random_photo
