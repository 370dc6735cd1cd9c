"""Null-text inversion: its mechanics (loss, budget, early stop). Tiny models cannot show its benefit."""

from __future__ import annotations

import pytest
import torch

from freecure_edit.errors import ConfigurationError
from freecure_edit.inversion import NullTextSettings, invert

STEPS = 4


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_null_text_lowers_the_loss_it_optimises(load_tiny, photo, kind):
    # No early stop, so every step runs its full budget and the loss must come down.
    settings = NullTextSettings(inner_steps=3, early_stop_loss=0.0, early_stop_allowance_per_step=0.0)
    inversion = invert(load_tiny(kind, "smooth"), photo(48, 40), "a photo of a man", STEPS, 7.5,
                       method="null-text", null_text=settings)
    report = inversion.report
    assert report.iterations == [3] * STEPS
    for before, after in zip(report.initial_loss, report.final_loss):
        assert after < before
    assert inversion.backbone.counter.backward_passes == 3 * STEPS


def test_null_text_stops_early_once_the_loss_is_small_enough(load_tiny, photo):
    settings = NullTextSettings(inner_steps=5, early_stop_loss=1e9)
    inversion = invert(load_tiny("sd", "smooth"), photo(32, 32), "a photo", STEPS, 7.5,
                       method="null-text", null_text=settings)
    assert inversion.report.iterations == [1] * STEPS


def test_null_text_samples_with_its_optimised_embeddings(load_tiny, photo):
    inversion = invert(load_tiny("sd", "smooth"), photo(32, 32), "a photo", STEPS, 7.5,
                       method="null-text", null_text=NullTextSettings(inner_steps=2))
    pair = inversion.prompt_pair
    for i in range(STEPS):
        used = inversion.sampling_conditioning(i, pair, 7.5)
        assert used.uncond is inversion.null_embeddings[i]
    before = inversion.backbone.counter.snapshot()
    inversion.reconstruct(decode=False)
    assert inversion.backbone.counter.since(before).evaluations == 2 * STEPS


def test_null_text_refuses_guidance_one(load_tiny, photo):
    with pytest.raises(ConfigurationError, match="above 1"):
        invert(load_tiny("sd", "smooth"), photo(32, 32), "a photo", 2, 1.0, method="null-text")


def test_null_text_lowers_the_loss_in_half_precision(tiny_model_folder, photo):
    """In fp16 the gradient of a ~1e-6 loss underflows to exactly 0 on its way back through the model,
    so without loss scaling the loss stays where it was; it must fall as it does in fp32."""
    from freecure_edit.models.loading import load_pipeline

    pipe = load_pipeline(tiny_model_folder("sd", "smooth"), device="cpu", dtype="float16")
    assert pipe.unet.dtype == torch.float16
    settings = NullTextSettings(inner_steps=2, early_stop_loss=0.0, early_stop_allowance_per_step=0.0)
    inversion = invert(pipe, photo(32, 32), "a photo of a man", 2, 7.5, method="null-text", null_text=settings)
    report = inversion.report
    for before, after in zip(report.initial_loss, report.final_loss):
        assert after < before
