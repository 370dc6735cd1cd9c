"""The cure on the committed toy models: does it cure, and does it keep the person?

These are the only tests in the suite that judge an edit's quality. They use trained weights (the toy
world's, committed under freecure_edit/toyworld/weights) and the world's judges. Thresholds were
measured on these weights (README, "Toy world"), not chosen to pass.

Measured on these weights (UNet trained 4800 steps; README, "Toy world") at 20 steps, on 6 dark-haired
drawings (these 4 and two more) asked for "red hair": the cure shows red hair 6/6 as its foundation
images do, with identity cosines 0.69-0.97 (mean 0.85) against FD's 0.24-0.94 (mean 0.71; a better
trained UNet keeps more of the drawing from its inverted noise than the 2400-step one did, FD mean 0.35
there). That needed the paste feather to follow the image's size (a 64th of its short side, 1 px here):
at the old fixed 8 px the cosines were -0.20-0.64 (mean 0.32, 2400-step weights).
"smiling": 5/6 (FD 4/6) with cosines >= 0.87. "without glasses": from round glasses 6/6 removed, from
sunglasses 2/6 (see the tests below).
With identities 12 and 15 as the two more (seeds 105, 106), the six read identity mean 0.75 (min 0.35)
and smiling 3/6, on today's code and on that of 57f49fb alike (README, "Toy world: the experiment").
"""

from __future__ import annotations

import numpy as np
import pytest

from freecure_edit import CureConfig
from freecure_edit.callbacks import CureCallbacks
from freecure_edit.toyworld.world import PortraitSpec, draw, prompt_for
from toy_fixtures import SUBJECTS, cure_subjects, load_toy_cure

STEPS = 20
# Identity judge cosine between a drawing and its cure: measured 0.78-0.93 over 6 red-hair cures at the
# defaults (same identity, other drawings: mean 0.73, 5th pct 0.40; different identities: mean -0.04, 95th
# pct 0.35), so 0.6 is well inside "the same person" and far outside what FD alone keeps (mean 0.35).
IDENTITY_KEPT = 0.6


@pytest.fixture(scope="module")
def toy():
    return load_toy_cure("sd")


def _cures(toy, families, changes, base=None, subjects=SUBJECTS, **config):
    return cure_subjects(toy[0], families, changes, base, subjects, steps=STEPS, **config)


@pytest.fixture(scope="module")
def red_hair_cures(toy):
    return _cures(toy, ["hair_colour"], {"hair_colour": "red"})


def test_the_foundation_branch_draws_the_asked_red_hair(toy, red_hair_cures):
    _, judges = toy
    for drawing, _, _ in red_hair_cures:
        assert judges.attributes([drawing.image])[0]["hair_colour"] in ("black", "brown"), "the judge must read the input"
    seen = [judges.attributes([result.fd_image])[0]["hair_colour"] for _, _, result in red_hair_cures]
    assert seen.count("red") >= 3, f"foundation images' hair: {seen}"


def test_the_cure_keeps_the_identity(toy, red_hair_cures):
    _, judges = toy
    similarities = [judges.identity_similarity(d.image, r.image) for d, _, r in red_hair_cures]
    assert min(similarities) >= IDENTITY_KEPT, f"identity cosines {np.round(similarities, 3)}"


def test_the_cure_keeps_the_identity_better_than_its_foundation_image(toy, red_hair_cures):
    _, judges = toy
    cured = [judges.identity_similarity(d.image, r.image) for d, _, r in red_hair_cures]
    foundation = [judges.identity_similarity(d.image, r.fd_image) for d, _, r in red_hair_cures]
    # Measured on these 4: cure mean 0.80, FD mean 0.61 (6 drawings: 0.85 against 0.71).
    assert np.mean(cured) > np.mean(foundation) + 0.1, f"cure {np.round(cured, 3)}, FD {np.round(foundation, 3)}"


def test_red_hair_on_dark_hair_is_seen_by_the_judge(toy, red_hair_cures):
    _, judges = toy
    seen = [judges.attributes([r.image])[0]["hair_colour"] for _, _, r in red_hair_cures]
    assert seen.count("red") >= 3, f"hair after the cure: {seen}"


def test_smiling_makes_the_judge_see_a_smile(toy):
    _, judges = toy
    seen = [judges.attributes([r.image])[0]["expression"] for _, _, r in _cures(toy, ["expression"], {"expression": "smiling"})]
    assert seen.count("smiling") >= 3, f"expressions after the cure: {seen}"


def _glasses_after_removal(toy, worn):
    _, judges = toy
    cures = _cures(toy, ["glasses"], {"glasses": "none"}, base={"glasses": worn})
    assert all(prompt.endswith("without glasses") for _, prompt, _ in cures)
    assert all(judges.attributes([d.image])[0]["glasses"] == worn for d, _, _ in cures), "the judge must read the input"
    return [judges.attributes([r.image])[0]["glasses"] for _, _, r in cures]


def test_without_glasses_removes_round_glasses(toy):
    seen = _glasses_after_removal(toy, "round")
    assert seen.count("none") >= 3, f"glasses after the cure: {seen}"


def test_without_glasses_takes_the_dark_lenses_out_of_sunglasses(toy):
    # Measured on these 4: none, none, round (the dark lenses gone, a rim left) and sunglasses.
    seen = _glasses_after_removal(toy, "sunglasses")
    assert seen.count("sunglasses") <= 2, f"glasses after the cure: {seen}"


@pytest.mark.xfail(strict=True, reason="measured at the defaults (omega 0.5): of 6 sunglasses drawings the cure "
                   "removed the glasses fully in 2, left a rim in 2 and the lenses in 2. FD removes them 6/6 but "
                   "from the template prompt ('a photo of a man', which no training caption was: every one names "
                   "the hair) it draws another face, often with a hat, so FASA carries skin-coloured features "
                   "in while the photo branch keeps the dark centres; omega 3 removed 3/3 in a look at three")
def test_without_glasses_removes_sunglasses_fully(toy):
    seen = _glasses_after_removal(toy, "sunglasses")
    assert seen.count("none") >= 3, f"glasses after the cure: {seen}"


def test_an_empty_mask_gives_the_reconstruction_and_leaves_the_drawing_alone(toy):
    cure, judges = toy
    spec = PortraitSpec(identity=4, hair_colour="black")
    drawing = draw(spec, 105)
    empty = CureCallbacks(on_masks=lambda context: {name: mask * 0 for name, mask in context.masks.items()})
    result = cure.cure(drawing.image, prompt_for(spec.with_changes(hair_colour="red"), ["hair_colour"]),
                       CureConfig(steps=STEPS), callbacks=empty)
    assert np.array_equal(np.asarray(result.working_image), np.asarray(result.reconstruction))
    assert np.array_equal(np.asarray(result.image), np.asarray(drawing.image))
    assert judges.attributes([result.reconstruction])[0]["hair_colour"] == "black"


def test_strength_is_a_dial_in_the_toy_world(toy):
    """Issue 13 item 1 on trained weights. The change is the working image against the reconstruction (what
    the dial controls; against the drawing, the autoencoder's round trip inside the mask adds a floor).
    Measured on these 2 drawings: 0.03 / 0.24 / 0.59 / 1 of strength 1's change at 0.1 / 0.25 / 0.5 / 1
    with FASA's output mixed by strength squared (`CureConfig.fasa_mix`); a linear mix gave 0.36 / 0.59 /
    0.74 / 1 (a trained network amplifies a small share of FD's attention), the earlier dial (omega + log
    strength) 0.48 at 0.1."""
    changes = []
    for strength in (0.0, 0.1, 0.25, 0.5, 1.0):
        results = _cures(toy, ["hair_colour"], {"hair_colour": "red"}, subjects=SUBJECTS[:2], strength=strength)
        if strength == 0.0:
            assert all(np.array_equal(np.asarray(r.image), np.asarray(d.image)) for d, _, r in results)
            changes.append(0.0)
            continue
        changes.append(float(np.mean([np.abs(np.asarray(r.working_image, float) - np.asarray(r.reconstruction, float)).mean()
                                      for _, _, r in results])))
    assert all(a < b for a, b in zip(changes, changes[1:])), f"changes {np.round(changes, 2)}"
    assert changes[1] < 0.3 * changes[-1], f"changes {np.round(changes, 2)}"
