"""method="rofa": the first version's SAME masks and noise blending."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.prompts import parse_prompt
from freecure_edit.cure.rofa import blend_noise, same_masks

STEPS = 6


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
@pytest.mark.parametrize("size", [(64, 64), (80, 56)], ids=["square", "non-square"])
def test_rofa_with_an_empty_mask_gives_the_reconstruction(load_tiny, photo, kind, size):
    fc = FreeCure(load_tiny(kind, "smooth"), parser=FixedRegionParser({}))
    result = fc.cure(photo(*size), "a man with black curly hair",
                     CureConfig(method="rofa", steps=STEPS, rofa_start=0.0))
    assert np.array_equal(pixels(result.working_image), pixels(result.reconstruction))
    # Nothing to blend anywhere: the photo's trajectory is the result, at no evaluation.
    assert result.stats.evaluations["rofa"] == 0


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
@pytest.mark.parametrize("size", [(64, 64), (80, 56)], ids=["square", "non-square"])
def test_rofa_with_a_full_mask_at_weight_one_follows_the_foundation_branch(load_tiny, photo, kind, size, monkeypatch):
    """With M = 1 from step 0 at weight 1 the photo branch's noise is FD's at every step, so with the
    same corrections (both branches keep them all) both walk the same latents and decode to the same
    image."""
    import freecure_edit.cure.pipeline as pipeline

    def full_masks(parsed, photo_parse, fd_parse, maps, shape, **settings):
        masks = same_masks(parsed, photo_parse, fd_parse, maps, shape, **settings)
        masks.union = torch.ones(shape)
        return masks

    monkeypatch.setattr(pipeline, "same_masks", full_masks)
    fc = FreeCure(load_tiny(kind, "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    config = CureConfig(method="rofa", steps=STEPS, rofa_start=0.0, rofa_weight=1.0,
                        mask_corrections=1.0, fd_mask_corrections=1.0)

    result = fc.cure(photo(*size), "a man with black curly hair", config)

    assert np.array_equal(pixels(result.working_image), pixels(result.fd_image))


def test_the_same_mask_is_zero_wherever_either_parse_is():
    parsed = parse_prompt("a woman with blonde hair")
    shape = (8, 12)
    photo_parse = {"hair": torch.zeros(shape)}
    photo_parse["hair"][:, :6] = 1.0
    fd_parse = {"hair": torch.zeros(shape)}
    fd_parse["hair"][:4, :] = 1.0
    attention = {"hair": torch.rand(4, 6) + 0.1}

    masks = same_masks(parsed, photo_parse, fd_parse, attention, shape)

    hair = masks.per_attribute["hair"]
    assert float(hair[:, 6:].abs().max()) == 0.0
    assert float(hair[4:, :].abs().max()) == 0.0
    assert float(hair[:4, :6].max()) > 0.0
    assert torch.equal(masks.union, hair)


def test_the_same_mask_keeps_only_the_chosen_parses_factor():
    """mask_source "photo" or "fd" (issue 27) drops the other parse's factor; a removal stays the photo's."""
    shape = (8, 12)
    photo_parse = {"hair": torch.zeros(shape), "eye_g": torch.zeros(shape)}
    photo_parse["hair"][:, :6] = 1.0
    photo_parse["eye_g"][2:4, 2:10] = 1.0
    fd_parse = {"hair": torch.zeros(shape), "eye_g": torch.zeros(shape)}
    fd_parse["hair"][:4, :] = 1.0
    # Min-max normalised, so the smallest value is 0: put it in the corner no region reaches.
    heat = torch.ones(4, 6)
    heat[-1, -1] = 0.0
    attention = {"hair": heat, "glasses": heat}

    def hair(source):
        return same_masks(parse_prompt("a woman with blonde hair"), photo_parse, fd_parse, attention, shape,
                          source=source).per_attribute["hair"] > 0

    assert hair("photo")[:, :6].all() and not hair("photo")[:, 6:].any()
    assert hair("fd")[:4, :].all() and not hair("fd")[4:, :].any()
    assert torch.equal(hair("both"), hair("photo") & hair("fd"))
    for source in ("both", "photo", "fd"):
        removal = same_masks(parse_prompt("a woman without glasses"), photo_parse, fd_parse, attention, shape,
                             source=source)
        assert torch.equal(next(iter(removal.per_attribute.values())) > 0, photo_parse["eye_g"] > 0)


def test_blend_noise_is_the_authors_formula():
    photo_noise, foundation_noise = torch.zeros(1, 4, 2, 3), torch.ones(1, 4, 2, 3)
    mask = torch.tensor([[0.0, 0.5, 1.0], [1.0, 1.0, 0.0]])
    blended = blend_noise(photo_noise, foundation_noise, mask, 0.75)
    assert torch.allclose(blended[0, 2], 0.75 * mask)


def test_rofa_keeps_no_fd_key_value_cache(load_tiny, photo):
    """ROFA never injects FD's keys, so its FD pass only records the cross-attention maps."""
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    rofa = fc.cure(photo(64, 64), "a man with black curly hair", CureConfig(method="rofa", steps=STEPS))
    fasa = fc.cure(photo(64, 64), "a man with black curly hair", CureConfig(method="fasa", steps=STEPS))
    assert rofa.stats.fd_cache_bytes == 0
    assert fasa.stats.fd_cache_bytes > 0
