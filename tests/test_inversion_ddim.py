"""Plain DDIM inversion: the identity on a zero-noise model, and drift that grows with guidance."""

from __future__ import annotations

import pytest
import torch

from freecure_edit.errors import ConfigurationError
from freecure_edit.inversion import invert

STEPS = 6


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
@pytest.mark.parametrize("size", [(48, 48), (56, 40)], ids=["square", "non-square"])
def test_ddim_is_the_identity_when_the_model_predicts_zero_noise(load_tiny, photo, kind, size):
    pipe = load_tiny(kind, "zero")
    inversion = invert(pipe, photo(*size), "a photo of a woman", STEPS, 7.5, method="ddim")

    result = inversion.reconstruct(decode=False)

    assert relative_error(result.z0, inversion.z0) < 1e-5
    # With eps == 0 the trajectory is a pure rescaling of z0, so z_T is z0 scaled by sqrt(alpha_T).
    expected_zT = inversion.z0 * inversion.schedule.alpha(0) ** 0.5 / inversion.schedule.final_alpha ** 0.5
    assert relative_error(inversion.zT, expected_zT) < 1e-5


def test_ddim_reconstruction_error_grows_with_guidance(load_tiny, photo):
    pipe = load_tiny("sd", "smooth")
    errors = []
    for guidance in (1.0, 3.0, 7.5):
        inversion = invert(pipe, photo(48, 48), "a photo of a man", STEPS, guidance, method="ddim")
        errors.append(relative_error(inversion.reconstruct(decode=False).z0, inversion.z0))
    assert errors[0] < errors[1] < errors[2]
    assert errors[0] > 1e-4, "on the smooth model plain DDIM is not exact, which is why exact exists"


def test_negative_prompt_inversion_samples_with_the_source_prompt_as_negative(load_tiny, photo):
    pipe = load_tiny("sd", "zero")
    inversion = invert(pipe, photo(48, 48), "a photo of a man", STEPS, 5.0, method="negative-prompt")
    before = inversion.backbone.counter.snapshot()

    result = inversion.reconstruct(decode=False)

    assert inversion.backbone.counter.since(before).evaluations == 2 * STEPS
    assert relative_error(result.z0, inversion.z0) < 1e-5
    pair = inversion.prompt_pair
    used = inversion.sampling_conditioning(0, pair, 5.0)
    assert torch.equal(used.uncond.hidden_states, pair.cond.hidden_states)


def test_images_are_snapped_to_the_autoencoder_grid(load_tiny, photo):
    pipe = load_tiny("sd", "zero")
    inversion = invert(pipe, photo(51, 37), "a photo", 2, method="ddim")
    factor = inversion.backbone.vae_scale_factor
    assert inversion.image_size == (51 - 51 % factor, 37 - 37 % factor)
    assert inversion.reconstruct().image.size == inversion.image_size


def test_unknown_method_is_refused(load_tiny, photo):
    with pytest.raises(ConfigurationError, match="unknown inversion method"):
        invert(load_tiny("sd", "zero"), photo(32, 32), "a photo", 2, method="magic")


def test_progress_reports_every_step(load_tiny, photo):
    seen = []
    invert(load_tiny("sd", "zero"), photo(32, 32), "a photo", 4, method="exact",
           progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (1, 4) and seen[-1] == (4, 4)
