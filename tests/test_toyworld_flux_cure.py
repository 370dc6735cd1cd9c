"""The cure on the committed toy FLUX: does it cure, and does it keep the person?

The toy FLUX (freecure_edit/toyworld/weights/flux, README "Toy world: FLUX") is guidance-distilled like
FLUX.1-dev, so "guidance 3.5" means classifier-free guidance 3.5 given in one row. These tests use its
trained weights and the world's judges; the thresholds were measured on these weights (numbers below),
not chosen to pass.

Measured on these weights (issue 27's retraining on partial captions: a 14000-step teacher, guidance
distilled in the noise interval 0.1-0.7; 2-core CPU), 20 steps, guidance 6 (inside the distilled range
1-7), "red hair" asked of 6 dark-haired drawings (these 4 and two more, tests/test_toyworld_cure.py's
SIX_SUBJECTS): the foundation images show red 5/6 (black 1/6), the cure red 3/6 (of these 4 the two brown
drawings; brown 2/6, black 1/6), with identity cosines 0.87-0.96 on these 4 and 0.96 / 0.98 on the other
two (FD 0.68-0.95). At guidance 3.5 the same counts, identity 0.89-0.98. The guidance input moves the
predicted velocity by 20% / 27% / 35% / 11% between g 1 and 5 on 96 held-out drawings at sigma 0.05 / 0.3
/ 0.6 / 0.95 (outside the interval the distillation taught it the conditional velocity). (The weights
before, guidance distilled at every level after a 6000-step teacher: the cure red 3/6 at guidance 6,
identity 0.51-0.97, FD -0.06-0.90, velocity moved 27% / 40% / 95% at sigma 0.3 / 0.6 / 0.95.)
"""

from __future__ import annotations

import numpy as np
import pytest

from toy_fixtures import cure_subjects, load_toy_cure

STEPS = 20
GUIDANCE = 6.0
# Identity judge cosine: measured 0.87-0.96 over these 4 red-hair cures at guidance 6 (0.78-0.89 on the
# weights before; same identity, other drawings: mean 0.73, 5th pct 0.40), so 0.7 is "the same person"
# with a margin.
IDENTITY_KEPT = 0.7
# Of these 4 drawings the cure turned two red at guidance 6 (the inputs: none); one on the weights before.
RED_CURED = 1


@pytest.fixture(scope="module")
def toy_flux():
    return load_toy_cure("flux")


@pytest.fixture(scope="module")
def red_hair_cures(toy_flux):
    cures = cure_subjects(toy_flux[0], ["hair_colour"], {"hair_colour": "red"}, steps=STEPS, guidance=GUIDANCE,
                          working_size=64)
    return [(drawing, result) for drawing, _, result in cures]


def test_the_toy_flux_is_a_guidance_distilled_dev_model(toy_flux):
    import torch

    from freecure_edit.backbones.flux import image_position_ids, pack_latents
    from freecure_edit.toyworld.data import HELD_OUT_SEED_BASE, drawing_set
    from freecure_edit.toyworld.train_flux import SEQUENCE_LENGTH
    from freecure_edit.toyworld.train_generator import encode

    cure, _ = toy_flux
    assert cure.backbone.kind == "flux" and cure.backbone.model_defaults.name == "FLUX.1-dev"
    pipe = cure.pipe
    data = drawing_set(8, HELD_OUT_SEED_BASE + 555)
    latents = encode(pipe.vae, data.pixels()) * pipe.vae.config.scaling_factor
    sequence, pooled, text_ids = pipe.encode_prompt(prompt=data.captions, prompt_2=None, device="cpu",
                                                    max_sequence_length=SEQUENCE_LENGTH)
    sigma = torch.full((len(latents),), 0.6)
    noisy = 0.4 * latents + 0.6 * torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        velocity = {g: pipe.transformer(hidden_states=pack_latents(noisy), timestep=sigma, guidance=torch.full_like(sigma, g),
                                        pooled_projections=pooled, encoder_hidden_states=sequence, txt_ids=text_ids,
                                        img_ids=image_position_ids(*latents.shape[-2:]), return_dict=False)[0]
                    for g in (1.0, 5.0)}
    change = float((velocity[5.0] - velocity[1.0]).norm() / velocity[1.0].norm())
    assert change > 0.2, f"guidance 5 against 1 moves the velocity by {change:.3f} only: not guidance-distilled"


def test_the_cure_shows_the_asked_red_hair_more_often_than_the_input(toy_flux, red_hair_cures):
    _, judges = toy_flux
    before = [judges.attributes([d.image])[0]["hair_colour"] for d, _ in red_hair_cures]
    after = [judges.attributes([r.image])[0]["hair_colour"] for _, r in red_hair_cures]
    assert before.count("red") == 0, f"the judge must read the inputs as dark-haired: {before}"
    assert after.count("red") >= RED_CURED, f"cured hair: {after}"


def test_the_cure_keeps_the_identity_better_than_its_foundation_image(toy_flux, red_hair_cures):
    _, judges = toy_flux
    cured = [judges.identity_similarity(d.image, r.image) for d, r in red_hair_cures]
    foundation = [judges.identity_similarity(d.image, r.fd_image) for d, r in red_hair_cures]
    assert min(cured) >= IDENTITY_KEPT, f"identity cosines {np.round(cured, 3)}"
    assert np.mean(cured) > np.mean(foundation), f"cure {np.round(cured, 3)}, FD {np.round(foundation, 3)}"
