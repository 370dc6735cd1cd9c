"""Checks that need the real models and, in practice, a GPU. Skipped unless FREECURE_REAL_WEIGHTS=1.

    FREECURE_REAL_WEIGHTS=1 python -m pytest -m real_weights -q

They need Stable Diffusion 1.5 and jonathandinu/face-parsing in the Hugging Face cache (they are
downloaded when the machine is online) and run in a few minutes on a GPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.real_weights,
    pytest.mark.skipif(os.environ.get("FREECURE_REAL_WEIGHTS") != "1", reason="set FREECURE_REAL_WEIGHTS=1"),
]

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "astronaut.png"


@pytest.fixture(scope="module")
def freecure():
    from freecure_edit import FreeCure

    return FreeCure.from_pretrained(detector=None)


def psnr(a, b) -> float:
    mse = float(((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).mean())
    return 10 * np.log10(255.0**2 / mse)


def test_the_real_parser_finds_the_astronauts_hair_and_face(freecure):
    from PIL import Image

    parse = freecure.parser.parse(Image.open(SAMPLE))
    assert float(parse["hair"].mean()) > 0.02
    assert float(parse["skin"].mean()) > 0.05


def test_the_exact_front_end_reconstructs_the_photo_as_well_as_the_autoencoder(freecure):
    from PIL import Image

    from freecure_edit.inversion import invert

    inversion = invert(freecure.backbone, Image.open(SAMPLE).convert("RGB"), "a photo of a woman", 50, 7.5)
    reconstruction = inversion.reconstruct().image
    round_trip = freecure.backbone.tensor_to_image(freecure.backbone.decode(inversion.z0))
    assert psnr(reconstruction, round_trip) > 45


def test_a_cure_changes_the_hair_and_keeps_the_background(freecure):
    from PIL import Image

    from freecure_edit import CureConfig

    photo = Image.open(SAMPLE).convert("RGB")
    result = freecure.cure(photo, "a woman with long blonde curly hair", CureConfig(detect=False))
    hair = result.masks["hair"].numpy() > 0.5
    change = np.abs(np.asarray(result.working_image, float) - np.asarray(result.reconstruction, float)).mean(-1)
    assert change[hair].mean() > 2 * change[~hair].mean()
    assert np.asarray(result.image)[-32:].tolist() == np.asarray(photo)[-32:].tolist()


def test_generation_inside_ip_adapter_faceid_keeps_the_person_and_changes_the_hair():
    """Needs h94/IP-Adapter-FaceID's ip-adapter-faceid_sd15.bin in the Hugging Face cache and insightface's
    buffalo_l pack in ~/.insightface/models."""
    from freecure_edit import FreeCure
    from freecure_edit.cure.config import CureConfig

    fc = FreeCure.from_pretrained(detector="buffalo_l")
    fc.load_adapter("h94/IP-Adapter-FaceID")
    result = fc.generate(SAMPLE, "a photo of a woman with red curly hair", CureConfig(steps=30), seed=0)
    assert result.identity_similarity is not None and result.identity_similarity > 0.3
    # The cure changes the hair region and little else.
    hair = result.masks["union"].numpy() > 0.5
    change = np.abs(np.asarray(result.image, np.float64) - np.asarray(result.pd_image, np.float64)).mean(axis=2)
    assert hair.any() and change[hair].mean() > 2 * change[~hair].mean()
