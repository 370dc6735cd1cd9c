"""The cure on the committed toy models: does it cure, and does it keep the person?

These are the only tests in the suite that judge an edit's quality. They use trained weights (the toy
world's, committed under freecure_edit/toyworld/weights) and the world's judges. Thresholds were
measured on these weights (README, "Toy world"), not chosen to pass.

Measured on these weights (`train --short`: UNet 2900 x 16) at 20 steps and the defaults, on the six
drawings below (the four of SUBJECTS and two more): "red hair" is red 5/6 (the third brown) with
identity cosines 0.82-0.97 (mean 0.93) against FD's mean 0.56, FD red 6/6; "smiling" 6/6 (0.78-0.96);
"without glasses" removes round glasses 6/6 (0.72-0.92) and sunglasses fully 4/6 (the other two keep a
round rim). With both branches keeping all their corrections inside the masks (`mask_corrections` and
`fd_mask_corrections` 1, the defaults before these weights) the same six read red 3/6, round glasses
removed 1/6, sunglasses 1/6, smiling 6/6.
"""

from __future__ import annotations

import numpy as np
import pytest

from freecure_edit import CureConfig
from freecure_edit.cure.callbacks import CureCallbacks
from freecure_edit.toyworld.world import PortraitSpec, draw, prompt_for
from toy_fixtures import SUBJECTS, cure_subjects, load_toy_cure

STEPS = 20
# Identity judge cosine between a drawing and its cure: measured 0.82-0.97 over the 6 red-hair cures at the
# defaults (same identity, other drawings: mean 0.73, 5th pct 0.40; different identities: mean -0.04, 95th
# pct 0.35), so 0.6 is well inside "the same person" and above what FD alone keeps (mean 0.56).
IDENTITY_KEPT = 0.6
# Red hair is judged on six drawings, so that "most cases" (4) leaves one drawing of margin.
SIX_SUBJECTS = [*SUBJECTS, (12, "black", "curly", 105), (15, "brown", "straight", 106)]


@pytest.fixture(scope="module")
def toy():
    return load_toy_cure("sd")


def _cures(toy, families, changes, base=None, subjects=SUBJECTS, **config):
    return cure_subjects(toy[0], families, changes, base, subjects, steps=STEPS, **config)


@pytest.fixture(scope="module")
def red_hair_cures(toy):
    return _cures(toy, ["hair_colour"], {"hair_colour": "red"}, subjects=SIX_SUBJECTS)


def test_the_foundation_branch_draws_the_asked_red_hair(toy, red_hair_cures):
    _, judges = toy
    for drawing, _, _ in red_hair_cures:
        assert judges.attributes([drawing.image])[0]["hair_colour"] in ("black", "brown"), "the judge must read the input"
    seen = [judges.attributes([result.fd_image])[0]["hair_colour"] for _, _, result in red_hair_cures]
    assert seen.count("red") >= 4, f"foundation images' hair: {seen}"


def test_the_cure_keeps_the_identity(toy, red_hair_cures):
    _, judges = toy
    similarities = [judges.identity_similarity(d.image, r.image) for d, _, r in red_hair_cures]
    assert min(similarities) >= IDENTITY_KEPT, f"identity cosines {np.round(similarities, 3)}"


def test_the_cure_keeps_the_identity_better_than_its_foundation_image(toy, red_hair_cures):
    _, judges = toy
    cured = [judges.identity_similarity(d.image, r.image) for d, _, r in red_hair_cures]
    foundation = [judges.identity_similarity(d.image, r.fd_image) for d, _, r in red_hair_cures]
    # Measured on these 6: cure mean 0.93, FD mean 0.56.
    assert np.mean(cured) > np.mean(foundation) + 0.1, f"cure {np.round(cured, 3)}, FD {np.round(foundation, 3)}"


def test_red_hair_on_dark_hair_is_seen_by_the_judge(toy, red_hair_cures):
    _, judges = toy
    seen = [judges.attributes([r.image])[0]["hair_colour"] for _, _, r in red_hair_cures]
    assert seen.count("red") >= 4, f"hair after the cure: {seen}"


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


@pytest.fixture(scope="module")
def sunglasses_removed(toy):
    return _glasses_after_removal(toy, "sunglasses")


def test_without_glasses_removes_sunglasses_fully(sunglasses_removed):
    # Measured on these 4: none 4/4. Before the corrections were given up inside the masks the cure
    # removed them fully in 1 of the six drawings and this test was a strict expected failure.
    assert sunglasses_removed.count("none") >= 3, f"glasses after the cure: {sunglasses_removed}"


def test_without_glasses_leaves_no_dark_lenses(sunglasses_removed):
    assert "sunglasses" not in sunglasses_removed, f"glasses after the cure: {sunglasses_removed}"


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
    Measured on these 2 drawings: 0.03 / 0.12 / 0.39 / 1 of strength 1's change at 0.1 / 0.25 / 0.5 / 1
    with FASA's output mixed by strength squared (`CureConfig.fasa_mix`) and the corrections given up in
    proportion to the strength; on the earlier weights, keeping every correction: 0.03 / 0.24 / 0.59 / 1,
    and a linear mix 0.36 / 0.59 / 0.74 / 1 (a trained network amplifies a small share of FD's attention),
    the earlier dial (omega + log strength) 0.48 at 0.1."""
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
