"""Does the cure draw the asked edit, or a smear of it? The distance to the ideal edit on the committed toy
models (issue 27 item 5).

The world redraws every edit exactly (toyworld.ideal), so the cure's output can be held to the right
answer pixel for pixel inside the region the edit changes. The judges read "red hair" off a red blur;
these tests do not. Thresholds were measured on these weights at the defaults (README, "Toy world: which
step loses the ideal edit"), on the six drawings below, and sit about 10% beyond what the cure reached.
Each broken once in a scratch copy at those defaults: the foundation's latent not put in (`fd_blend`
ignored), 3 failures (red hair and hat bounds, hat against FD); APG off, 3 (every smile test); FASA
ignoring the foundation's keys, 1: red hair turns nearer the ideal than FD alone (the strict xfail),
since inside the masks the blend, not FASA, now carries the foundation in. So the edits with a mask are
held at FASA alone (`fd_start 0`, `fd_blend 0`, the authors' carrying, bounds measured there): with FASA
returning plain self-attention, 4 of those fail (the red hair and hat bounds, the hat against FD, the
glasses the judge sees), 5 with the strict xfail.
"""

from __future__ import annotations

import numpy as np
import pytest

from freecure_edit import CureConfig
from freecure_edit.toyworld.ideal import distance_to_ideal, ideal_edit
from freecure_edit.toyworld.world import PortraitSpec, draw, prompt_for
from toy_fixtures import SUBJECTS, load_toy_cure

STEPS = 20
SIX_SUBJECTS = [*SUBJECTS, (12, "black", "curly", 105), (15, "brown", "straight", 106)]
EDITS = {
    "red hair": ({"hair_colour": "red"}, ["hair_colour"]),
    "round glasses": ({"glasses": "round"}, ["glasses"]),
    "a hat": ({"hat": "hat"}, ["hat"]),
    "smiling": ({"expression": "smiling"}, ["expression"]),
}
# Means over the six drawings inside the region, measured at the defaults (20 steps, the foundation branch
# at guidance 4 beside the photo branch at 7.5, sharing the photo's trajectory for 0.2 of the steps and
# put in inside the mask by fd_blend 1), as MAE in 8-bit levels / SSIM:
#   red hair       cure 17.9 / 0.708   FD alone 17.6 / 0.740   input unchanged 39.0 / 0.673
#   round glasses  cure 48.3 / 0.625   FD alone 54.6 / 0.564   input unchanged 25.3 / 0.729
#   a hat          cure 13.6 / 0.715   FD alone 15.9 / 0.686   input unchanged 24.3 / 0.517
#   smiling        cure 28.4 / 0.728   FD alone 32.8 / 0.665   input unchanged 38.8 / 0.158
# (FASA alone, fd_start 0 and fd_blend 0, the defaults before: red hair 28.0 / 0.603, round glasses
# 47.9 / 0.566, a hat 19.2 / 0.599, smiling the same: an expression has no mask to blend.)
# The bounds leave about 10% of margin (MAE) or 0.03 (SSIM) to what the cure reached.
NEAR_IDEAL = {"red hair": (19.7, 0.68), "round glasses": (53.0, 0.59), "a hat": (15.0, 0.68), "smiling": (31.5, 0.69)}
# Where the cure is nearer the ideal than FD alone (both measures): not red hair, where the cure, with the
# foundation's latent put in inside the hair mask, is nearly FD's red hair but a little farther on both
# measures (FASA alone left darker patches where the photo's hair showed through: 28.0 against 21.8).
# On the 3-seed family table the hair-colour cures are nearer than FD (22.6 / 0.580 against 24.3 / 0.576),
# and here `paste_feather_px 0` reaches 13.8 / 0.755, but that feather lost two of 72 attributes there
# (README, "The paste feather at the toy's 64 px"), so the default, and this exception, stay.
NEARER_THAN_FD = ("round glasses", "a hat", "smiling")
# Where it is nearer than leaving the photo alone: not round glasses, whose region (the label fills the
# lenses) differs from the photo only in the thin rims, so leaving it alone scores well there.
NEARER_THAN_INPUT = ("red hair", "a hat", "smiling")


@pytest.fixture(scope="module")
def toy():
    return load_toy_cure("sd")


def _measure(cure, edits, config: CureConfig) -> dict:
    """edit -> arrays over the six drawings of the cure's, FD alone's and the input's distance inside, and
    the cured images ("images")."""
    out = {}
    for name in edits:
        changes, families = EDITS[name]
        rows, images = [], []
        for identity, colour, style, seed in SIX_SUBJECTS:
            drawing = draw(PortraitSpec(identity=identity, hair_colour=colour, hair_style=style), seed)
            prompt = prompt_for(drawing.spec.with_changes(**changes), families)
            ideal = ideal_edit(drawing, prompt)
            result = cure.cure(drawing.image, prompt, config)
            images.append(result.image)
            rows.append({who: distance_to_ideal(image, drawing, ideal)
                         for who, image in (("cure", result.image), ("fd", result.fd_image), ("input", drawing.image))})
        out[name] = {who: {measure: np.array([row[who][f"ideal_{measure}_in"] for row in rows]) for measure in ("mae", "ssim")}
                     for who in ("cure", "fd", "input")}
        out[name]["images"] = images
    return out


@pytest.fixture(scope="module")
def distances(toy):
    return _measure(toy[0], EDITS, CureConfig(steps=STEPS))


def _mean(distances, edit, who, measure):
    return float(distances[edit][who][measure].mean())


@pytest.mark.parametrize("edit", EDITS)
def test_the_cure_lands_near_the_ideal_edit_inside(distances, edit):
    mae, ssim = _mean(distances, edit, "cure", "mae"), _mean(distances, edit, "cure", "ssim")
    assert mae <= NEAR_IDEAL[edit][0] and ssim >= NEAR_IDEAL[edit][1], f"{edit}: MAE {mae:.1f}, SSIM {ssim:.3f}"


@pytest.mark.parametrize("edit", NEARER_THAN_FD)
def test_the_cure_is_nearer_the_ideal_than_its_foundation_image(distances, edit):
    cure = (_mean(distances, edit, "cure", "mae"), _mean(distances, edit, "cure", "ssim"))
    fd = (_mean(distances, edit, "fd", "mae"), _mean(distances, edit, "fd", "ssim"))
    assert cure[0] < fd[0] and cure[1] > fd[1], f"{edit}: cure {cure}, FD {fd}"


@pytest.mark.xfail(strict=True, reason="measured: FD's red hair is nearer the ideal (MAE 17.6 vs 17.9, SSIM "
                                       "0.740 vs 0.708); a cure that passes this should move red hair into "
                                       "NEARER_THAN_FD")
def test_red_hair_is_not_yet_nearer_the_ideal_than_its_foundation_image(distances):
    test_the_cure_is_nearer_the_ideal_than_its_foundation_image(distances, "red hair")


@pytest.mark.parametrize("edit", NEARER_THAN_INPUT)
def test_the_cure_is_nearer_the_ideal_than_the_photo_left_alone(distances, edit):
    cure, unchanged = _mean(distances, edit, "cure", "mae"), _mean(distances, edit, "input", "mae")
    assert cure < unchanged - 5, f"{edit}: cure {cure:.1f}, input {unchanged:.1f}"


def test_round_glasses_are_drawn_for_the_judge_to_see(toy, distances):
    # The distance cannot tell missing thin rims from a small error (the photo left alone scores 25.3),
    # so the glasses are also held to the judge: measured 2 of 6 at the defaults (PC 0.33).
    _assert_round_glasses_seen(toy[1], distances, at_least=2)


def _assert_round_glasses_seen(judges, distances, at_least: int) -> None:
    seen = [found["glasses"] for found in judges.attributes(distances["round glasses"]["images"])]
    assert seen.count("round") >= at_least, f"glasses after the cure: {seen}"


# FASA carrying the foundation alone (`fd_start 0`, `fd_blend 0`: the authors' carrying, a knob away), on
# the edits that have a mask. Measured on these weights, MAE / SSIM inside, the six drawings' means:
#   red hair       cure 28.0 / 0.603   FD alone 21.8 / 0.673   input unchanged 39.0 / 0.673
#   round glasses  cure 47.9 / 0.566   FD alone 63.7 / 0.495   input unchanged 25.3 / 0.729  (judge: 2 of 6)
#   a hat          cure 19.2 / 0.599   FD alone 22.1 / 0.579   input unchanged 24.3 / 0.517
# With FASA returning plain self-attention (broken once in a scratch copy): red hair 42.6 / 0.622, round
# glasses 40.2 / 0.587 (judge: 0 of 6; nearer the ideal in MAE because the photo's eyes are left as they
# were), a hat 26.2 / 0.526. These tests are what sees FASA broken: at the defaults the blend carries the
# foundation inside the masks.
FASA_ALONE = CureConfig(steps=STEPS, fd_start=0.0, fd_blend=0.0)
FASA_ALONE_NEAR_IDEAL = {"red hair": (30.8, 0.57), "a hat": (21.1, 0.57)}
FASA_ALONE_NEARER_THAN_FD = ("round glasses", "a hat")


@pytest.fixture(scope="module")
def fasa_alone_distances(toy):
    return _measure(toy[0], ("red hair", "round glasses", "a hat"), FASA_ALONE)


@pytest.mark.parametrize("edit", FASA_ALONE_NEAR_IDEAL)
def test_fasa_alone_lands_near_the_ideal_edit_inside(fasa_alone_distances, edit):
    mae, ssim = _mean(fasa_alone_distances, edit, "cure", "mae"), _mean(fasa_alone_distances, edit, "cure", "ssim")
    bound = FASA_ALONE_NEAR_IDEAL[edit]
    assert mae <= bound[0] and ssim >= bound[1], f"{edit}: MAE {mae:.1f}, SSIM {ssim:.3f}"


@pytest.mark.parametrize("edit", FASA_ALONE_NEARER_THAN_FD)
def test_fasa_alone_is_nearer_the_ideal_than_its_foundation_image(fasa_alone_distances, edit):
    test_the_cure_is_nearer_the_ideal_than_its_foundation_image(fasa_alone_distances, edit)


def test_fasa_alone_draws_round_glasses_for_the_judge_to_see(toy, fasa_alone_distances):
    _assert_round_glasses_seen(toy[1], fasa_alone_distances, at_least=2)  # measured 2 of 6
