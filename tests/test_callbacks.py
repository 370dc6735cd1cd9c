"""Python callbacks: every step with a preview, masks that can be replaced before FASA, the result."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureCallbacks, CureConfig, FreeCure

STEPS = 4


@pytest.fixture
def fc(load_tiny):
    return FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def test_every_sampling_step_is_reported_once_with_a_preview(fc, photo):
    steps = []
    callbacks = CureCallbacks(on_step=steps.append)

    fc.cure(photo(64, 48), "a man with black curly hair", CureConfig(steps=STEPS), callbacks=callbacks)

    assert [(s.phase, s.step, s.total) for s in steps] == [
        (phase, i, STEPS) for phase in ("inversion", "foundation", "fasa") for i in range(1, STEPS + 1)
    ]
    preview = steps[-1].preview()
    assert isinstance(preview, PIL.Image.Image)
    assert preview.size == (steps[-1].latents.shape[-1], steps[-1].latents.shape[-2])


def test_masks_emptied_by_the_callback_give_the_reconstruction(fc, photo):
    def no_masks(context):
        return {name: torch.zeros_like(mask) for name, mask in context.masks.items()}

    source = photo(64, 64)
    result = fc.cure(source, "a man with black curly hair", CureConfig(steps=STEPS),
                     callbacks=CureCallbacks(on_masks=no_masks))

    assert np.array_equal(pixels(result.working_image), pixels(result.reconstruction))
    assert np.array_equal(pixels(result.image), pixels(source))
    assert result.mask_sources == {"hair": "callback"}


def test_a_mask_painted_on_the_photo_replaces_the_computed_one(fc, photo):
    source = photo(96, 64)  # cured at 64x40 (the tiny model's working size): the mask is resized
    painted = np.zeros((64, 96), dtype=np.uint8)
    painted[:, 48:] = 255

    def use_painted(context):
        return {"hair": context.from_photo(PIL.Image.fromarray(painted))}

    result = fc.cure(source, "a man with black curly hair", CureConfig(steps=STEPS, paste_feather_px=0),
                     callbacks=CureCallbacks(on_masks=use_painted))

    hair = result.masks["hair"]
    assert float(hair[:, : hair.shape[1] // 2].max()) == 0.0
    assert float(hair[:, hair.shape[1] // 2 :].min()) == 1.0
    changed = np.abs(pixels(result.image) - pixels(source)).max(axis=-1) > 0
    # The mask is bilinearly upsampled back to the photo: its edge may soften by a pixel or two.
    assert not changed[:, :46].any() and changed[:, 48:].any()


def test_the_result_callback_sees_the_returned_result(fc, photo):
    seen = []
    result = fc.cure(photo(64, 64), "a man with black hair", CureConfig(steps=STEPS),
                     callbacks=CureCallbacks(on_result=seen.append))
    assert seen == [result]


def test_a_mask_of_the_wrong_shape_is_refused(fc, photo):
    with pytest.raises(ValueError, match="from on_masks"):
        fc.cure(photo(64, 64), "a man with black hair", CureConfig(steps=STEPS),
                callbacks=CureCallbacks(on_masks=lambda context: {"hair": torch.ones(3, 3)}))
