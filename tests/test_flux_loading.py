"""Loading FLUX: a diffusers folder, and a transformer-only single file with its config folder."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from freecure_edit.backbones import backbone_for
from freecure_edit.errors import ModelNotFoundError
from freecure_edit.models.loading import load_pipeline, pipeline_kind
from freecure_edit.testing.flux import tiny_flux_transformer


def test_a_flux_folder_loads_as_the_flux_backbone(tiny_model_folder):
    pipe = load_pipeline(tiny_model_folder("flux", "random"), device="cpu")

    assert pipeline_kind(pipe) == "flux"
    backbone = backbone_for(pipe)
    assert backbone.kind == "flux" and backbone.has_guidance_embedding
    assert backbone.max_sequence_length == 32  # capped by the tiny T5 tokenizer
    assert backbone.vae.config.latent_channels == 16 and backbone.vae.config.shift_factor != 0


def test_schnell_has_no_guidance_embedding(tiny_model_folder):
    backbone = backbone_for(load_pipeline(tiny_model_folder("flux-schnell", "random"), device="cpu"))
    assert not backbone.has_guidance_embedding


@pytest.fixture
def transformer_file(tmp_path):
    torch.manual_seed(7)  # weights unlike the folder's, so the file's are the ones that must load
    transformer = tiny_flux_transformer("dev")
    path = tmp_path / "flux-finetune.safetensors"
    save_file({key: value.contiguous() for key, value in transformer.state_dict().items()}, str(path))
    return path, transformer.state_dict()


def test_a_single_transformer_file_loads_with_its_config_folder(tiny_model_folder, transformer_file):
    path, weights = transformer_file

    pipe = load_pipeline(path, config=tiny_model_folder("flux", "random"), device="cpu")

    assert pipeline_kind(pipe) == "flux"
    loaded = pipe.transformer.state_dict()
    assert loaded.keys() == weights.keys()
    assert all(torch.equal(loaded[key], weights[key]) for key in weights)


def test_a_single_transformer_file_without_config_offline_is_refused_in_one_line(transformer_file):
    path, _ = transformer_file
    with pytest.raises(ModelNotFoundError) as raised:
        load_pipeline(path, device="cpu")
    message = str(raised.value)
    assert "\n" not in message and "--model-config" in message and "FLUX.1-dev" in message
