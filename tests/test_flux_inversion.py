"""FLUX's schedule, backbone and rectified-flow inversion on the tiny FLUX: properties for any weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from freecure_edit.backbones import backbone_for
from freecure_edit.backbones.flux import image_position_ids, pack_latents, unpack_latents
from freecure_edit.errors import ConfigurationError
from freecure_edit.inversion import invert
from freecure_edit.schedules.flow import flow_schedule

STEPS = 5


def pixels(width: int, height: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, height, width, generator=generator) * 2 - 1


@pytest.mark.parametrize("kind", ["flux", "flux-schnell"])
@pytest.mark.parametrize("guidance", [1.0, 3.5, 7.0])
@pytest.mark.parametrize("size", [(32, 32), (48, 32)], ids=["square", "non-square"])
def test_exact_inversion_reconstructs_bit_for_bit(load_tiny, kind, guidance, size):
    # On random weights a deviation of 1e-6 grows by orders of magnitude over the steps (OFFLINE.md),
    # so only the trajectory-plus-deviation form can pass this.
    backbone = backbone_for(load_tiny(kind, "random"))
    inversion = invert(backbone, pixels(*size), "a photo of a woman", STEPS, guidance)

    assert torch.equal(inversion.reconstruct(decode=False).z0, inversion.z0)
    edited = inversion.reconstruct("a woman with red hair", decode=False)
    assert torch.equal(edited.z0, inversion.z0), "the corrections hold for any prompt on the trajectory"


def test_exact_inversion_costs_n_plus_one_evaluations_and_one_row_per_prediction(load_tiny):
    backbone = backbone_for(load_tiny("flux", "random"))
    before = backbone.counter.snapshot()

    invert(backbone, pixels(32, 32), "a photo of a woman", STEPS, 3.5)

    used = backbone.counter.since(before)
    assert (used.evaluations, used.calls) == (STEPS + 1, STEPS + 1)


def test_a_different_inversion_guidance_still_reconstructs_bit_for_bit(load_tiny):
    from freecure_edit.inversion.flow import invert_flow

    backbone = backbone_for(load_tiny("flux", "random"))
    before = backbone.counter.snapshot()
    inversion = invert_flow(backbone, pixels(32, 32), "a photo", STEPS, 3.5, inversion_guidance=1.0)
    used = backbone.counter.since(before)

    assert used.evaluations == 2 * STEPS  # N to invert, N anchors (level 0 included)
    assert torch.equal(inversion.reconstruct(decode=False).z0, inversion.z0)


def test_plain_inversion_is_the_drifting_baseline(load_tiny):
    backbone = backbone_for(load_tiny("flux", "random"))
    inversion = invert(backbone, pixels(32, 32), "a photo of a woman", STEPS, 3.5, method="ddim")

    reconstruction = inversion.reconstruct(decode=False).z0
    assert not torch.equal(reconstruction, inversion.z0)
    assert inversion.method == "flow"


@pytest.mark.parametrize("method", ["null-text", "negative-prompt"])
def test_null_text_and_negative_prompt_are_refused_in_one_line(load_tiny, method):
    with pytest.raises(ConfigurationError) as raised:
        invert(load_tiny("flux", "random"), pixels(32, 32), "a photo", STEPS, 3.5, method=method)
    message = str(raised.value)
    assert "\n" not in message and "FLUX" in message and "guidance-distilled" in message


def test_the_schedule_is_fluxs_shifted_euler_schedule(load_tiny):
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    pipe = load_tiny("flux", "random")
    small = flow_schedule(pipe.scheduler.config, 8, image_tokens=256)
    large = flow_schedule(pipe.scheduler.config, 8, image_tokens=4096)
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    scheduler.set_timesteps(8, sigmas=np.linspace(1.0, 1 / 8, 8), mu=calculate_shift(4096))

    assert large.sigmas == tuple(float(s) for s in scheduler.sigmas)
    assert large.sigmas[0] == small.sigmas[0] == 1.0 and large.sigmas[-1] == 0.0
    assert all(b > a for a, b in zip(small.sigmas[1:-1], large.sigmas[1:-1])), "more tokens, more shift"

    z, velocity = torch.randn(1, 16, 8, 8), torch.randn(1, 16, 8, 8)
    for i in (0, 3, 7):
        expected = scheduler.step(velocity, scheduler.timesteps[i], z, return_dict=False)[0]
        scheduler._step_index = None
        assert torch.allclose(large.step(z, velocity, i), expected, atol=1e-6)
        assert torch.allclose(large.inverse_step(large.step(z, velocity, i), velocity, i), z, atol=1e-6)


def test_schnell_has_no_dynamic_shift(load_tiny):
    pipe = load_tiny("flux-schnell", "random")
    assert flow_schedule(pipe.scheduler.config, 4, 256) == flow_schedule(pipe.scheduler.config, 4, 4096)


@pytest.mark.parametrize("shape", [(8, 8), (6, 10)])
def test_packing_round_trips_and_follows_the_position_ids(shape):
    latents = torch.randn(2, 16, *shape)
    tokens = pack_latents(latents)

    assert tokens.shape == (2, shape[0] * shape[1] // 4, 64)
    assert torch.equal(unpack_latents(tokens, *shape), latents)
    ids = image_position_ids(*shape)
    for index in (0, 3, tokens.shape[1] - 1):
        row, column = int(ids[index, 1]), int(ids[index, 2])
        patch = latents[0, :, 2 * row:2 * row + 2, 2 * column:2 * column + 2]
        assert torch.equal(tokens[0, index], patch.permute(0, 1, 2).reshape(-1))


def test_the_backbone_matches_flux_pipelines_own_sampling(load_tiny):
    # The same noise through FluxPipeline and through the backbone's Euler loop: same latents, which
    # checks packing, position ids, timestep scaling, pooled and T5 conditioning and the guidance embedding.
    pipe = load_tiny("flux", "smooth")
    backbone = backbone_for(pipe)
    height, width = 24, 40
    generator = torch.Generator().manual_seed(1)
    noise = torch.randn(1, 16, height // 2, width // 2, generator=generator)
    expected = pipe(
        "a woman", height=height, width=width, num_inference_steps=4, guidance_scale=3.5,
        latents=pack_latents(noise), max_sequence_length=backbone.max_sequence_length, output_type="latent",
    ).images
    schedule = backbone.schedule(4, (height // 2, width // 2))
    rows = backbone.with_guidance(backbone.encode_prompt("a woman").cond, 3.5)
    z = noise
    with torch.no_grad():
        for i in range(4):
            z = schedule.step(z, backbone.denoise(z, schedule.timesteps[i], rows), i)

    assert torch.allclose(pack_latents(z), expected, atol=1e-5)
