"""The toy FLUX's rows in the gates (toyworld/gates.py): it is sampled as it was trained, and it carries the
toy SD's current autoencoder and CLIP."""

from __future__ import annotations

import numpy as np
import pytest

from freecure_edit.toyworld import gates
from freecure_edit.toyworld.assets import model_dir


@pytest.fixture(scope="module")
def flux_pipe():
    from freecure_edit.models.loading import load_pipeline

    pipe = load_pipeline(str(model_dir("flux")), device="cpu")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_same_weights_compares_tensors_not_files():
    sd = model_dir("sd")
    vae = sd / "vae" / "diffusion_pytorch_model.safetensors"
    assert gates.same_weights(vae, vae)
    assert not gates.same_weights(vae, sd / "text_encoder" / "model.safetensors")


def test_the_committed_toy_flux_carries_the_committed_sds_autoencoder_and_clip():
    flux, sd = model_dir("flux"), model_dir("sd")
    assert gates.same_weights(flux / "vae" / "diffusion_pytorch_model.safetensors",
                              sd / "vae" / "diffusion_pytorch_model.safetensors")
    assert gates.same_weights(flux / "text_encoder" / "model.safetensors", sd / "text_encoder" / "model.safetensors")


def test_flux_samples_use_the_world_size_and_the_trained_sequence_length(flux_pipe):
    from freecure_edit.toyworld.train_flux import SEQUENCE_LENGTH

    assert gates.flux_call_kwargs(flux_pipe) == {"height": 64, "width": 64, "max_sequence_length": SEQUENCE_LENGTH}


def test_flux_samples_at_the_gate_settings_follow_their_prompts(flux_pipe):
    from freecure_edit.toyworld.judges import load_judges

    judges = load_judges()
    _, prompts = gates.partial_prompts(16)
    images = gates._samples(flux_pipe, prompts, gates.GENERATION_STEPS, gates.FLUX_GUIDANCE, batch=16,
                            call_kwargs=gates.flux_call_kwargs(flux_pipe))
    assert images.shape == (16, 64, 64, 3)
    # Share of the asked attributes the judge sees, on these 16 prompts with the committed toy FLUX: 0.83
    # as trained (80 T5 tokens); 0.26 with FluxPipeline's default 512-token padding, which the toy FLUX
    # never saw (the old toy FLUX drew speckled noise there). 0.55 lies between.
    asked = np.mean([judges.prompt_consistency(image, prompt) for image, prompt in zip(images, prompts)])
    assert asked > 0.55, f"the samples show {asked:.2f} of the asked attributes: the prompts are not read"


def test_the_toy_flux_rows_hold_the_generator_gates_and_the_encoder_checks():
    """flux_rows on the committed toy FLUX, quick (a handful of samples: which rows, not their values)."""
    from freecure_edit.toyworld.judges import load_judges

    rows = []

    def add(model, name, value, gate=None, higher=True):
        rows.append((model, name, gate))

    gates.flux_rows(add, model_dir("flux"), model_dir("sd"), load_judges(), quick=True)
    names = {name for model, name, _ in rows if model == "flux"}
    assert {"same autoencoder as sd/ (1 yes)", "same CLIP as sd/ (1 yes)", "shows asked all_asked",
            "partial: Frechet of judge features", "partial: edge energy ratio", "partial: shows unasked, any"} <= names
    assert {gate for _, name, gate in rows if name == "partial: Frechet of judge features"} == {gates.FRECHET_GATE}
