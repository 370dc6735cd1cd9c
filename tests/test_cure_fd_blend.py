"""fd_blend (issue 27): for the photo branch's first round(fd_blend * steps) steps, its latent inside the
cure mask is the foundation branch's latent at the same step; outside the mask and after those steps
it is its own. 0 is the cure of before (SD 1.x photos default to 1: test_flux_defaults.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.cure.callbacks import CureCallbacks
from freecure_edit.cure.pass_plan import photo_pass_plan
from freecure_edit.errors import ConfigurationError
from freecure_edit.inversion import Inversion
from freecure_edit.prompts import parse_prompt

HAIR = "a man with black curly hair"
STEPS = 4


@pytest.fixture
def fc(load_tiny):
    return FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))


class PredictedAt:
    """The latents each branch predicts at, in order: the foundation's (the full prompt) and the photo
    branch's (any other prompt; the hair prompt has no abstract attribute, so no APG branch)."""

    def __init__(self, monkeypatch):
        self.foundation: list[torch.Tensor] = []
        self.photo: list[torch.Tensor] = []
        original = Inversion.predict_noise

        def recording(inversion, i, z, pair, *args, **kwargs):
            (self.foundation if pair.prompt == HAIR else self.photo).append(z.detach().clone())
            return original(inversion, i, z, pair, *args, **kwargs)

        monkeypatch.setattr(Inversion, "predict_noise", recording)

    def take(self):
        taken = (list(self.foundation), list(self.photo))
        self.foundation.clear()
        self.photo.clear()
        return taken


def top_half(context):
    """The top half of the image, on whole latent cells (64 px, 8 px a cell)."""
    mask = torch.zeros_like(context.masks["union"])
    mask[: mask.shape[0] // 2] = 1.0
    return {"hair": mask}


@pytest.mark.parametrize("inversion", ["exact", "ddim"])
def test_the_photo_branch_starts_from_the_foundations_latent_inside_the_mask(fc, photo, monkeypatch, inversion):
    recorded = PredictedAt(monkeypatch)
    source = photo(64, 64)
    callbacks = CureCallbacks(on_masks=top_half)
    # A first cure inverts the photo (the exact front end predicts its step-0 anchor then): the two
    # recorded below reuse that inversion and predict only in their branches.
    fc.cure(source, HAIR, CureConfig(steps=STEPS, inversion=inversion, fd_blend=0.0), callbacks=callbacks)
    recorded.take()
    fc.cure(source, HAIR, CureConfig(steps=STEPS, inversion=inversion, fd_blend=0.5), callbacks=callbacks)
    foundation, blended = recorded.take()
    fc.cure(source, HAIR, CureConfig(steps=STEPS, inversion=inversion, fd_blend=0.0), callbacks=callbacks)
    _, plain = recorded.take()

    assert len(foundation) == len(blended) == len(plain) == STEPS
    rows = foundation[0].shape[-2] // 2  # the mask's latent rows
    k = round(0.5 * STEPS)
    for i in range(1, k):
        assert torch.equal(blended[i][..., :rows, :], foundation[i][..., :rows, :]), f"step {i}: FD's inside"
        assert not torch.equal(plain[i][..., :rows, :], foundation[i][..., :rows, :]), "without it, the photo's own"
    # From step k the photo branch steps on its own, inside the mask too.
    assert not torch.equal(blended[k][..., :rows, :], foundation[k][..., :rows, :])
    # Outside the mask nothing is put in: the photo branch's latent there is not the foundation's.
    assert not torch.equal(blended[1][..., rows:, :], foundation[1][..., rows:, :])


def test_fd_blend_0_is_the_cure_without_the_blend(fc, photo, monkeypatch):
    """fd_blend 0 is the code path of before: no blend built, and the cure as if none could be."""
    from freecure_edit.cure import pipeline

    source = photo(64, 64)
    zero = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_blend=0.0))
    monkeypatch.setattr(pipeline.LatentBlend, "of", classmethod(lambda cls, *args: None))
    fc.forget_inversions()
    without = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_blend=1.0))
    assert np.array_equal(np.asarray(zero.image), np.asarray(without.image))
    assert zero.stats.evaluations == without.stats.evaluations


@pytest.mark.parametrize("kind", ["sd", "flux"])
def test_fd_blend_moves_the_cure_toward_the_foundation_image_inside_the_mask(load_tiny, photo, kind):
    """With every step blended and the whole image masked, only the photo branch's last step is its own
    (FLUX's latents are packed into tokens only inside its transformer: the mask is on the same grid)."""
    fc = FreeCure(load_tiny(kind, "smooth" if kind == "sd" else "random"), parser=FixedRegionParser(HAIR_ON_TOP))
    source = photo(64, 64)
    everything = CureCallbacks(on_masks=lambda context: {"hair": torch.ones_like(context.masks["union"])})
    distances = {}
    for share in (0.0, 1.0):
        config = CureConfig(steps=STEPS, fd_blend=share, detect=False, working_size=64)
        result = fc.cure(source, HAIR, config, callbacks=everything)
        cured = np.asarray(result.image, dtype=np.float64)
        distances[share] = np.abs(cured - np.asarray(result.fd_image, dtype=np.float64)).mean()
    assert distances[1.0] < distances[0.0]


def test_the_photo_pass_starts_at_step_0_when_it_blends():
    parsed = parse_prompt(HAIR)
    late = CureConfig(steps=STEPS, fasa_steps=(0.5, 1.0))
    assert photo_pass_plan(late, parsed, exact=True).first == 2
    assert photo_pass_plan(late.with_changes(fd_blend=0.25), parsed, exact=True).first == 0
    assert photo_pass_plan(late.with_changes(fd_blend=0.1), parsed, exact=True).first == 2  # rounds to 0 steps


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_fd_blend_outside_0_to_1_is_refused(share):
    with pytest.raises(ConfigurationError, match="fd_blend"):
        CureConfig(fd_blend=share)
