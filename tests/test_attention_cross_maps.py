"""Cross-attention maps of attribute tokens, against probabilities diffusers' own processor computes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import AttnProcessor

from freecure_edit.attention import AttentionController, default_fasa_layers
from freecure_edit.testing import tiny_sd_pipeline, tiny_sdxl_pipeline

TOKENS = {"hair": [2, 3], "eyes": [5]}
FD_ROW = 1


def _inputs(unet, latent_size: tuple[int, int]):
    generator = torch.Generator().manual_seed(3)
    latents = torch.randn(2, 4, *latent_size, generator=generator)
    states = torch.randn(2, 7, unet.config.cross_attention_dim, generator=generator)
    added = None
    if unet.config.addition_embed_type == "text_time":
        added = {"text_embeds": torch.randn(2, 32, generator=generator), "time_ids": torch.randn(2, 6)}
    return latents, states, added


def _reference_maps(unet, latent_size, latents, states, added, timesteps) -> dict[str, torch.Tensor]:
    """The same average from the probabilities diffusers' AttnProcessor computes, hooked where it does."""
    recorded: list[torch.Tensor] = []
    for name, module in unet.named_modules():
        if name.startswith("up_blocks.") and getattr(module, "is_cross_attention", False):
            compute = module.get_attention_scores

            def scores(query, key, attention_mask=None, compute=compute, heads=module.heads):
                probabilities = compute(query, key, attention_mask)
                recorded.append(probabilities.view(-1, heads, *probabilities.shape[1:])[FD_ROW].mean(0))
                return probabilities

            module.get_attention_scores = scores
    unet.set_attn_processor(AttnProcessor())
    with torch.no_grad():
        for timestep in timesteps:
            unet(latents, timestep, encoder_hidden_states=states, added_cond_kwargs=added)

    # The UNet's levels: the latent halved k times, rounded up.
    levels = [(math.ceil(latent_size[0] / 2**k), math.ceil(latent_size[1] / 2**k)) for k in range(4)]
    maps = {}
    for attribute, tokens in TOKENS.items():
        total = torch.zeros(latent_size)
        for probabilities in recorded:
            grid = next(level for level in levels if level[0] * level[1] == probabilities.shape[0])
            token_map = probabilities[:, tokens].mean(1).reshape(1, 1, *grid)
            total += F.interpolate(token_map, size=latent_size, mode="bilinear", align_corners=False)[0, 0]
        mean = total / len(recorded)
        maps[attribute] = (mean - mean.min()) / (mean.max() - mean.min())
    return maps


@pytest.mark.parametrize("build", [tiny_sd_pipeline, tiny_sdxl_pipeline])
@pytest.mark.parametrize("latent_size", [(8, 8), (5, 7)])
def test_maps_average_fd_conditional_attention_over_heads_layers_and_steps(build, latent_size) -> None:
    unet = build(unet_variant="smooth").unet
    latents, states, added = _inputs(unet, latent_size)
    timesteps = [900, 400]
    controller = AttentionController(unet, default_fasa_layers(unet), latent_size)
    with torch.no_grad(), controller.installed():
        controller.record(fd_cond_row=FD_ROW, capture_tokens=TOKENS)
        for step, timestep in enumerate(timesteps):
            controller.step = step
            unet(latents, timestep, encoder_hidden_states=states, added_cond_kwargs=added)
    maps = controller.cross_attention_maps()

    expected = _reference_maps(unet, latent_size, latents, states, added, timesteps)
    assert set(maps) == set(TOKENS)
    for attribute, attention_map in maps.items():
        assert attention_map.shape == latent_size
        assert attention_map.min().item() == 0.0 and attention_map.max().item() == 1.0
        assert torch.allclose(attention_map, expected[attribute], atol=1e-4)
    # Different tokens attend differently, so the maps are not one map under two names.
    assert not torch.allclose(maps["hair"], maps["eyes"], atol=1e-2)


def test_without_capture_tokens_there_are_no_maps_and_a_bad_token_is_refused() -> None:
    unet = tiny_sd_pipeline().unet
    latents, states, _ = _inputs(unet, (8, 8))
    controller = AttentionController(unet, default_fasa_layers(unet), (8, 8))
    with torch.no_grad(), controller.installed():
        controller.step = 0
        controller.record(fd_cond_row=FD_ROW)
        unet(latents, 10, encoder_hidden_states=states)
        assert controller.cross_attention_maps() == {}
        controller.record(fd_cond_row=FD_ROW, capture_tokens={"hair": [7]})  # the prompt has tokens 0..6
        with pytest.raises(ValueError, match="only 7 tokens"):
            unet(latents, 10, encoder_hidden_states=states)
    with pytest.raises(ValueError, match="non-empty"):
        controller.record(fd_cond_row=FD_ROW, capture_tokens={"hair": []})
