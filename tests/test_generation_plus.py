"""Generation mode with IP-Adapter FaceID Plus / PlusV2 on tiny random weights: the identity embedding
and CLIP image features of the reference, written in IP-Adapter's own layout and loaded by diffusers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import random_photo
from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import FreeCure
from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError
from freecure_edit.generation.faceid_layout import faceid_plus_state_dict, save_faceid
from freecure_edit.testing.sd import tiny_sd_pipeline

ID_DIM, CLIP_DIM, SIZE = 16, 24, 64
PROMPT = "a photo of a woman with red hair"


def tiny_image_encoder(width=CLIP_DIM):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    return CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=width, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2, image_size=32,
        patch_size=8, projection_dim=16)).eval()


def loaded(tmp_path, name="ip-adapter-faceid-plusv2_tiny.safetensors", parser=None, **options):
    pipe = tiny_sd_pipeline("random")
    path = save_faceid(faceid_plus_state_dict(pipe.unet, ID_DIM, CLIP_DIM, zero_lora_up=False, seed=2), tmp_path / name)
    fc = FreeCure(pipe, parser=parser or FixedRegionParser(HAIR_ON_TOP))
    fc.load_adapter(str(path), image_encoder=options.pop("image_encoder", tiny_image_encoder()), **options)
    return fc


def config(**changes):
    return CureConfig(**{"steps": 4, "guidance": 5.0, "working_size": SIZE, "mask_source": "fd", **changes})


def pixels(image):
    return np.asarray(image).astype(np.int16)


def identity(seed=0):
    return np.random.default_rng(seed).normal(size=ID_DIM)


@pytest.mark.parametrize("name,shortcut", [("ip-adapter-faceid-plusv2_tiny.safetensors", True),
                                           ("ip-adapter-faceid-plus_tiny.safetensors", False)])
def test_plus_and_plusv2_are_told_apart_by_name(tmp_path, name, shortcut):
    fc = loaded(tmp_path, name=name)
    assert (fc.adapter.kind, fc.adapter.shortcut, fc.adapter.clip_dim) == ("faceid-plus", shortcut, CLIP_DIM)
    assert fc.pipe.unet.encoder_hid_proj.image_projection_layers[0].shortcut is shortcut


def test_the_personalized_branch_is_diffusers_own_plusv2_call(tmp_path):
    fc = loaded(tmp_path)
    reference = random_photo(48, 48, seed=4)
    latent = torch.randn((1, 4, SIZE // 2, SIZE // 2), generator=torch.Generator().manual_seed(3))
    result = fc.generate(reference, PROMPT, config(), identity=identity(), latents=latent)
    # diffusers' own: the features of [zero image, reference] on the projection, zeros as the negative embedding.
    clip = fc.pipe.prepare_ip_adapter_image_embeds([reference], None, "cpu", 1, True)[0]
    fc.pipe.unet.encoder_hid_proj.image_projection_layers[0].clip_embeds = clip
    e = torch.as_tensor(identity(), dtype=torch.float32).reshape(1, 1, 1, -1)
    out = fc.pipe(PROMPT, num_inference_steps=4, guidance_scale=5.0, latents=latent.clone(), height=SIZE, width=SIZE,
                  ip_adapter_image_embeds=[torch.cat([torch.zeros_like(e), e])], output_type="np").images[0]
    assert np.abs(pixels(result.pd_image) - (out * 255).round().astype(np.int16)).max() <= 1


def test_the_reference_moves_the_personalized_branch_and_not_the_foundation(tmp_path):
    fc = loaded(tmp_path)
    first = fc.generate(random_photo(48, 48, seed=1), PROMPT, config(), identity=identity(), seed=5)
    second = fc.generate(random_photo(48, 48, seed=2), PROMPT, config(), identity=identity(), seed=5)
    assert np.abs(pixels(first.pd_image) - pixels(second.pd_image)).mean() > 0.5
    assert np.array_equal(pixels(first.fd_image), pixels(second.fd_image))


def test_an_empty_mask_gives_the_personalized_image(tmp_path):
    fc = loaded(tmp_path, parser=FixedRegionParser({}))
    result = fc.generate(random_photo(48, 48), PROMPT, config(), identity=identity(), seed=2)
    assert np.abs(pixels(result.image) - pixels(result.pd_image)).max() <= 1


def test_an_image_encoder_of_another_width_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="24 wide"):
        loaded(tmp_path, image_encoder=tiny_image_encoder(width=32))


def test_plus_needs_the_reference_image_not_only_an_embedding(tmp_path):
    fc = loaded(tmp_path)
    with pytest.raises(ConfigurationError, match="reference image"):
        fc.generate(None, PROMPT, config(), identity=identity())
