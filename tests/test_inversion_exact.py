"""The exact front end retraces the inversion trajectory, and it is the corrections that hold it there."""

from __future__ import annotations

import pytest
import torch

from freecure_edit.inversion import invert

STEPS = 6
SIZES = [(48, 48), (64, 40)]


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
@pytest.mark.parametrize("size", SIZES, ids=["square", "non-square"])
@pytest.mark.parametrize("guidance", [1.0, 7.5])
def test_exact_reconstruction_retraces_the_trajectory(load_tiny, photo, kind, size, guidance):
    # Random weights: the worst case, where any rounding slip is amplified thousands of times.
    pipe = load_tiny(kind, "random")
    inversion = invert(pipe, photo(*size), "a photo of a man", STEPS, guidance, method="exact")
    before = inversion.backbone.counter.snapshot()

    result = inversion.reconstruct()

    used = inversion.backbone.counter.since(before)
    assert used.evaluations == STEPS * (1 if guidance == 1.0 else 2)
    assert len(result.latents) == STEPS + 1
    for visited, expected in zip(result.latents, inversion.latents):
        assert torch.allclose(visited, expected, rtol=0, atol=1e-6 * expected.abs().max().item())
    assert result.image.size == size


def test_exact_depends_on_the_model_predictions(load_tiny, photo):
    """A sampler that ignored the denoiser (returning the stored trajectory) would not see this change."""
    pipe = load_tiny("sd", "smooth")
    inversion = invert(pipe, photo(48, 48), "a photo of a man", STEPS, 1.0, method="exact")
    handle = pipe.unet.register_forward_hook(lambda module, args, output: (output[0] + 0.05,))
    try:
        shifted = inversion.reconstruct(decode=False)
    finally:
        handle.remove()
    assert relative_error(shifted.z0, inversion.z0) > 1e-3


@pytest.mark.parametrize("guidance", [1.0, 7.5])
def test_exact_holds_a_perturbed_start_near_the_trajectory(load_tiny, photo, guidance):
    pipe = load_tiny("sd", "smooth")
    inversion = invert(pipe, photo(48, 40), "a photo of a man", STEPS, guidance, method="exact")
    generator = torch.Generator().manual_seed(0)
    offset = 1e-3 * inversion.zT.abs().mean() * torch.randn(inversion.zT.shape, generator=generator)

    corrected = inversion.reconstruct(start=inversion.zT + offset, decode=False)
    plain = invert(pipe, photo(48, 40), "a photo of a man", STEPS, guidance, method="ddim")
    uncorrected = plain.reconstruct(start=inversion.zT + offset, decode=False)

    corrected_error = relative_error(corrected.z0, inversion.z0)
    assert corrected_error > 0, "a perturbed start must not land exactly on the stored z0"
    assert corrected_error < 1e-2
    assert corrected_error < 0.5 * relative_error(uncorrected.z0, inversion.z0)


def test_exact_reconstructs_under_another_prompt(load_tiny, photo):
    """Corrections for a new prompt are computed on demand, and cost N (or 2N) more evaluations."""
    pipe = load_tiny("sdxl", "random")
    inversion = invert(pipe, photo(48, 48), "a photo of a woman", STEPS, 1.0, method="exact")
    before = inversion.backbone.counter.snapshot()

    result = inversion.reconstruct("a woman with black curly hair", guidance_scale=5.0, decode=False)

    assert inversion.backbone.counter.since(before).evaluations == 2 * (2 * STEPS)
    assert torch.allclose(result.z0, inversion.z0, rtol=0, atol=1e-6 * inversion.z0.abs().max().item())


def test_reconstructed_image_matches_the_autoencoder_round_trip(load_tiny, photo):
    pipe = load_tiny("sd", "random")
    inversion = invert(pipe, photo(40, 56), "a photo", STEPS, 7.5, method="exact")
    backbone = inversion.backbone
    round_trip = backbone.tensor_to_image(backbone.decode(inversion.z0))

    result = inversion.reconstruct()

    assert list(result.image.getdata()) == list(round_trip.getdata())


@pytest.mark.parametrize("guidance", [1.0, 7.5])
def test_exact_inversion_costs_what_ddim_inversion_costs_plus_one(load_tiny, photo, guidance):
    pipe = load_tiny("sd", "zero")
    costs = {}
    for method in ("ddim", "exact"):
        inversion = invert(pipe, photo(32, 32), "a photo", STEPS, guidance, method=method)
        # Both invert at guidance 1; exact also needs the sampler's rows for its anchors.
        costs[method] = inversion.backbone.counter.evaluations
    rows = 1 if guidance == 1.0 else 2
    assert costs["exact"] == rows * (STEPS + 1)
    assert costs["ddim"] == STEPS, "DDIM inversion runs at guidance 1 whatever the sampler's guidance"


@pytest.mark.parametrize("guidance", [1.0, 7.5])
def test_a_released_step_is_the_plain_step_where_released_and_the_exact_one_elsewhere(load_tiny, photo, guidance):
    pipe = load_tiny("sd", "smooth")
    inversion = invert(pipe, photo(48, 48), "a photo of a man", STEPS, guidance, method="exact")
    pair = inversion.prompt_pair
    inversion.prepare_sampling(pair, guidance)
    generator = torch.Generator().manual_seed(1)
    z = inversion.latents[2] + 0.1 * torch.randn(inversion.zT.shape, generator=generator)
    noise = inversion.predict_noise(2, z, pair, guidance)
    height, width = z.shape[-2:]
    release = torch.zeros(1, 1, height, width)
    release[..., : height // 2, :] = 1.0

    exact = inversion.next_latent(2, z, noise, pair, guidance)
    plain = inversion.schedule.step(z, noise, 2)
    released = inversion.next_latent(2, z, noise, pair, guidance, release=release)
    half = inversion.next_latent(2, z, noise, pair, guidance, release=0.5 * release)

    top, bottom = (..., slice(None, height // 2), slice(None)), (..., slice(height // 2, None), slice(None))
    assert relative_error(plain[top], exact[top]) > 1e-3, "the corrections must matter for this test to mean anything"
    assert torch.allclose(released[top], plain[top], atol=1e-5)
    assert torch.equal(released[bottom], exact[bottom])
    assert torch.allclose(half[top], (plain[top] + exact[top]) / 2, atol=1e-5)
    assert torch.equal(inversion.next_latent(2, z, noise, pair, guidance, release=torch.zeros_like(release)), exact)
