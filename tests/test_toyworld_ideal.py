"""The distance to the ideal edit (freecure_edit.toyworld.ideal) on hand-made outputs: the ideal scores
perfectly, the input unchanged badly inside and perfectly outside, and a smear below a clean edit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from freecure_edit.toyworld.ideal import OUTSIDE_MARGIN_PX, distance_to_ideal, edit_region, ideal_edit
from freecure_edit.toyworld.world import LABEL_NAMES, PortraitSpec, draw, prompt_for

# (what is asked, its prompt families): hair colour (no label changes), thin frames, a big shape, a mouth.
EDITS = {
    "red hair": ({"hair_colour": "red"}, ["hair_colour"]),
    "round glasses": ({"glasses": "round"}, ["glasses"]),
    "a hat": ({"hat": "hat"}, ["hat"]),
    "smiling": ({"expression": "smiling"}, ["expression"]),
}


def edited(name: str, identity: int = 3, seed: int = 11):
    """(drawing, prompt, ideal) for one of EDITS on a dark-haired, plain drawing."""
    changes, families = EDITS[name]
    drawing = draw(PortraitSpec(identity=identity, hair_colour="brown", hair_style="curly"), seed)
    prompt = prompt_for(drawing.spec.with_changes(**changes), families)
    return drawing, prompt, ideal_edit(drawing, prompt)


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def clean_edit(drawing, ideal) -> Image.Image:
    """The ideal with what the edit draws 10 levels lighter: the asked attribute, sharp, in a shade the
    world's own colour jitter (up to 10 levels) could have drawn."""
    target, before = pixels(ideal.image), pixels(drawing.image)
    drawn = (np.abs(target - before).max(axis=2) > 16)[..., None]
    return Image.fromarray(np.clip(np.where(drawn, target + 10, target), 0, 255).astype(np.uint8))


def blurred(drawing, ideal) -> Image.Image:
    """The ideal edit smeared: a Gaussian blur of radius 2 over the region the edit changes."""
    region = edit_region(drawing, ideal)[..., None]
    blur = pixels(ideal.image.filter(ImageFilter.GaussianBlur(2)))
    return Image.fromarray(np.where(region, blur, pixels(ideal.image)).astype(np.uint8))


def blob(drawing, ideal) -> Image.Image:
    """A colour blob: the region filled with the ideal's mean colour there (right colour, no shape)."""
    region = edit_region(drawing, ideal)
    target = pixels(ideal.image)
    return Image.fromarray(np.where(region[..., None], target[region].mean(axis=0), target).astype(np.uint8))


@pytest.mark.parametrize("name", EDITS)
def test_the_ideal_edit_scores_perfectly(name):
    drawing, _, ideal = edited(name)
    assert distance_to_ideal(ideal.image, drawing, ideal) == {
        "ideal_mae_in": 0.0, "ideal_mae_out": 0.0, "ideal_ssim_in": pytest.approx(1.0),
        "ideal_ssim_out": pytest.approx(1.0)}


@pytest.mark.parametrize("name", EDITS)
def test_the_input_unchanged_scores_badly_inside_and_perfectly_outside(name):
    drawing, _, ideal = edited(name)
    unchanged = distance_to_ideal(drawing.image, drawing, ideal)
    clean = distance_to_ideal(clean_edit(drawing, ideal), drawing, ideal)
    assert unchanged["ideal_mae_out"] == 0.0 and unchanged["ideal_ssim_out"] == pytest.approx(1.0)
    assert unchanged["ideal_mae_in"] > 2 * clean["ideal_mae_in"]
    assert unchanged["ideal_ssim_in"] < clean["ideal_ssim_in"] - 0.05


@pytest.mark.parametrize("name", EDITS)
@pytest.mark.parametrize("smear", [blurred, blob])
def test_a_smear_ranks_below_a_clean_edit(name, smear):
    drawing, _, ideal = edited(name)
    clean = distance_to_ideal(clean_edit(drawing, ideal), drawing, ideal)
    smeared = distance_to_ideal(smear(drawing, ideal), drawing, ideal)
    assert smeared["ideal_mae_in"] > clean["ideal_mae_in"]
    assert smeared["ideal_ssim_in"] < clean["ideal_ssim_in"] - 0.1
    # Both keep everything outside, so neither is told apart there.
    assert smeared["ideal_mae_out"] == clean["ideal_mae_out"] == 0.0


def test_damage_outside_the_region_counts_outside_only():
    drawing, _, ideal = edited("round glasses")
    damaged = pixels(ideal.image).copy()
    damaged[-8:, :] = 0  # the clothes, far from the eyes
    scores = distance_to_ideal(Image.fromarray(damaged.astype(np.uint8)), drawing, ideal)
    assert scores["ideal_mae_in"] == 0.0 and scores["ideal_ssim_in"] == pytest.approx(1.0)
    assert scores["ideal_mae_out"] > 5 and scores["ideal_ssim_out"] < 0.95


def test_a_colour_change_is_a_region_though_no_label_changes():
    drawing, _, ideal = edited("red hair")
    assert np.array_equal(drawing.labels, ideal.labels)
    region = edit_region(drawing, ideal, 0)
    hair = drawing.labels == LABEL_NAMES.index("hair")
    assert region[hair].mean() > 0.95


@pytest.mark.parametrize("name", EDITS)
@pytest.mark.parametrize("identity, seed", [(0, 1), (7, 2), (12, 3)])
def test_outside_the_region_the_ideal_is_the_drawing_itself(name, identity, seed):
    drawing, _, ideal = edited(name, identity, seed)
    outside = ~edit_region(drawing, ideal, OUTSIDE_MARGIN_PX)
    assert outside.any()
    assert np.array_equal(pixels(drawing.image)[outside], pixels(ideal.image)[outside])


def test_a_prompt_asking_for_nothing_new_has_no_inside_rather_than_a_perfect_one():
    drawing = draw(PortraitSpec(identity=2, hair_colour="red"), 5)
    ideal = ideal_edit(drawing, "a photo of a woman with red hair")
    scores = distance_to_ideal(drawing.image, drawing, ideal)
    assert scores["ideal_mae_in"] is None and scores["ideal_ssim_in"] is None
    assert scores["ideal_mae_out"] == 0.0


def test_the_ideal_edit_is_the_same_drawing_with_the_asked_attributes():
    drawing, prompt, ideal = edited("a hat")
    assert ideal.spec == drawing.spec.with_changes(hat="hat")
    assert (ideal.seed, ideal.image.size) == (drawing.seed, drawing.image.size)
    assert np.array_equal(pixels(ideal.image), pixels(draw(ideal.spec, drawing.seed).image))


def test_an_output_of_another_size_is_compared_at_the_drawing_size():
    drawing, _, ideal = edited("red hair")
    scores = distance_to_ideal(ideal.image.resize((128, 128), Image.NEAREST), drawing, ideal)
    assert scores["ideal_mae_in"] < 2.0 and scores["ideal_ssim_in"] > 0.98


def _hatless_and_hatted(hair_colour: str, seed: int):
    drawing = draw(PortraitSpec(identity=5, hair_colour=hair_colour), seed)
    prompt = prompt_for(drawing.spec.with_changes(hat="hat"), ["hat"])
    return drawing, ideal_edit(drawing, prompt)


@pytest.mark.parametrize("hair_colour, seed", [("black", 2), ("brown", 4), ("blonde", 9)])
def test_a_hat_in_a_colour_the_seed_did_not_pick_is_the_asked_hat(hair_colour, seed):
    # No prompt names a hat's colour: a clean hat in any colour is the ideal edit of "a hat".
    drawing, ideal = _hatless_and_hatted(hair_colour, seed)
    green = draw(ideal.spec, seed, hat_rgb=(40, 200, 70)).image
    scores = distance_to_ideal(green, drawing, ideal)
    assert scores["ideal_mae_in"] < 1.0 and scores["ideal_ssim_in"] > 0.99


@pytest.mark.parametrize("hair_colour, seed", [("black", 2), ("brown", 4), ("blonde", 9)])
def test_no_hat_does_not_become_a_hat_in_the_colour_of_whatever_is_there(hair_colour, seed):
    # The hat's colour comes from the output, so leaving the drawing alone gets a "hat" in its hair's and
    # background's colour; the shape still tells it from a hat, even on black hair under a black hat.
    drawing, ideal = _hatless_and_hatted(hair_colour, seed)
    unchanged = distance_to_ideal(drawing.image, drawing, ideal)
    for hat_rgb in [(40, 200, 70), (30, 26, 26)]:
        hatted = distance_to_ideal(draw(ideal.spec, seed, hat_rgb=hat_rgb).image, drawing, ideal)
        assert unchanged["ideal_mae_in"] > 10 and unchanged["ideal_mae_in"] > 5 * hatted["ideal_mae_in"]
        assert unchanged["ideal_ssim_in"] < hatted["ideal_ssim_in"] - 0.2
