"""The measures of the sharpness and realism gate (toyworld/realism.py) on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from freecure_edit.toyworld import realism
from freecure_edit.toyworld.data import HELD_OUT_SEED_BASE, drawing_set


@pytest.fixture(scope="module")
def drawings():
    return drawing_set(48, HELD_OUT_SEED_BASE + 9000)


def _blurred(images, radius):
    return np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(radius))) for im in images])


def test_frechet_distance_is_zero_for_the_same_rows_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert realism.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    near = realism.frechet_distance(a, rng.normal(size=(200, 8)))
    far = realism.frechet_distance(a, rng.normal(size=(200, 8)) + 1.0)
    assert near < 1.0 and far == pytest.approx(8.0 + near, abs=1.0)
    # A known case: unit and doubled spread in one dimension, sqrt(1*4) = 2, so 1 + 4 - 2 * 2 = 1.
    x = rng.normal(size=(20000, 1))
    assert realism.frechet_distance(x, 2 * x) == pytest.approx(1.0, rel=0.02)


def test_edge_energy_falls_with_blur_and_is_zero_for_a_flat_image(drawings):
    sharp = realism.edge_energy(drawings.images)
    assert realism.edge_energy(_blurred(drawings.images, 0.7)) < 0.85 * sharp
    assert realism.edge_energy(_blurred(drawings.images, 1.5)) < realism.edge_energy(_blurred(drawings.images, 0.7))
    assert realism.edge_energy(np.full((2, 8, 8, 3), 128, np.uint8)) == 0.0


def test_judge_features_place_blurred_drawings_further_than_other_drawings(drawings):
    from freecure_edit.toyworld.judges import load_judges

    judges = load_judges()
    reference = realism.judge_features(judges, drawing_set(96, HELD_OUT_SEED_BASE + 9100).images)
    assert reference.shape == (96, judges.attribute_net.heads["hat"].in_features + judges.identity_net.heads["embedding"].in_features)
    same = realism.frechet_distance(realism.judge_features(judges, drawings.images), reference)
    # The judges were trained on the autoencoder's soft reconstructions too, so mild blur moves their
    # features little (measured: 6.95 sharp, 7.09 at radius 0.5, 12.8 at 1.5, 22.7 at 2.5; 48 against 96
    # drawings): the edge ratio is the blur measure, this one the look of the whole.
    smeared = realism.frechet_distance(realism.judge_features(judges, _blurred(drawings.images, 1.5)), reference)
    worse = realism.frechet_distance(realism.judge_features(judges, _blurred(drawings.images, 2.5)), reference)
    assert same * 1.5 < smeared < worse, (same, smeared, worse)


def test_psnr_of_identical_noisy_and_opposite_images():
    a = np.full((1, 4, 4, 3), 100, np.uint8)
    assert realism.psnr(a, a) > 100
    assert realism.psnr(a, a + 10) == pytest.approx(20 * np.log10(255 / 10))
    assert realism.psnr(np.zeros_like(a), np.full_like(a, 255)) == pytest.approx(0.0)


def test_unasked_share_counts_only_families_the_prompt_leaves_out():
    plain = {"hair_colour": "red", "hair_style": "curly", "glasses": "none", "expression": "neutral", "hat": "none"}
    seen = [dict(plain, hat="hat"), dict(plain, glasses="round"), dict(plain, glasses="round"), plain]
    prompts = ["a photo of a man", "a photo of a man, round glasses", "a photo of a man with red hair", "a photo of a man"]
    shares = realism.unasked_share(seen, prompts)
    assert shares["hat"] == pytest.approx(1 / 4)
    assert shares["glasses"] == pytest.approx(1 / 3)  # the second prompt asked for its glasses
    assert shares["expression"] == 0.0
    assert shares["any"] == pytest.approx(2 / 4)
    # "without a hat" asks about the hat: a hat there misses an asked attribute (the attribute gate's
    # business), it is not an unasked one.
    assert realism.unasked_share([dict(plain, hat="hat")], ["a photo of a man, without a hat"])["any"] == 0.0
