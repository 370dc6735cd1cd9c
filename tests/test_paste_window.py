"""Paste-back inside the mask's window (issue 14, item 12): the same pixels as blending over the whole
photo, for the whole-image blend (in strips) and the face paste-back. Memory is measured in
benchmarks/paste_memory.py, not here."""

from __future__ import annotations

import math

import cv2
import numpy as np
import PIL.Image
import pytest
import torch
import torch.nn.functional as F

import freecure_edit.imageio.compose as compose
from freecure_edit.imageio.compose import blend_into, feathered_weight
from freecure_edit.faces.crop import FaceCrop
from freecure_edit.faces.geometry import compose_affine, invert_affine
from freecure_edit.faces.paste import _feathered_weight_grid, _photo_region, paste_back
from freecure_edit.faces.warp import warp_affine


def _noise(width: int, height: int, seed: int) -> PIL.Image.Image:
    rng = np.random.default_rng(seed)
    return PIL.Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def _whole_photo_blend(photo, cured, mask, feather_px):
    """The blend done the direct way, over the whole photo: the reference."""
    width, height = photo.size
    full = F.interpolate(mask.float()[None, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    weight = feathered_weight(full, feather_px).numpy()
    top = np.asarray(cured.resize(photo.size, PIL.Image.LANCZOS)).astype(np.float32)
    base = np.asarray(photo).astype(np.float32)
    blended = np.clip(np.round(base * (1 - weight[..., None]) + top * weight[..., None]), 0, 255)
    return blended.astype(np.uint8), weight


@pytest.mark.parametrize("strip_rows", [512, 7])
@pytest.mark.parametrize(
    ("photo_size", "mask_size", "feather"),
    [((300, 200), (64, 48), 5.0), ((301, 199), (64, 64), 0.0), ((700, 500), (96, 64), 12.5)],
)
def test_the_window_blend_matches_the_whole_photo_blend(monkeypatch, strip_rows, photo_size, mask_size, feather):
    monkeypatch.setattr(compose, "STRIP_ROWS", strip_rows)
    photo, cured = _noise(*photo_size, seed=1), _noise(*mask_size, seed=2)
    w, h = mask_size
    rng = np.random.default_rng(3)
    for mask in (torch.zeros(h, w), torch.zeros(h, w), torch.from_numpy(rng.random((h, w)) > 0.98).float()):
        if not mask.any():
            mask[h // 4: h // 2, w // 3: w // 2] = 0.8  # spans several 7-row strips
        expected, weight = _whole_photo_blend(photo, cured, mask, feather)

        result = np.asarray(blend_into(photo, cured, mask, feather))

        assert np.abs(result.astype(int) - expected.astype(int)).max() <= 1
        outside = weight == 0
        assert np.array_equal(result[outside], np.asarray(photo)[outside])


def test_an_empty_mask_returns_the_photo_unchanged():
    photo = _noise(120, 90, seed=4)
    result = blend_into(photo, _noise(64, 48, seed=5), torch.zeros(48, 64), 6.0)
    assert result is not photo and np.array_equal(np.asarray(result), np.asarray(photo))


@pytest.mark.parametrize("trial", range(6))
def test_the_face_paste_back_reaches_every_pixel_its_weight_reaches(trial):
    rng = np.random.default_rng(trial)
    photo = PIL.Image.new("RGB", (640, 480), (0, 0, 0))
    angle, scale, size = rng.uniform(-0.5, 0.5), rng.uniform(0.5, 3.0), int(rng.choice([128, 256]))
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    matrix = np.array([[cos, -sin, -rng.uniform(0, 400) * scale], [sin, cos, -rng.uniform(0, 300) * scale]])
    crop = FaceCrop(PIL.Image.new("RGB", (size, size)), matrix, size, None)
    mask = torch.zeros(64, 64)
    y, x = rng.integers(5, 50, size=2)
    mask[y:y + 6, x:x + 9] = 1.0
    feather = float(rng.choice([0.0, 4.0]))

    result = np.asarray(paste_back(photo, PIL.Image.new("RGB", (size, size), (255, 255, 255)), crop, mask, feather))

    # The weight warped over the crop's whole square, as before the window: the reference.
    x0, y0, x1, y1 = _photo_region(crop, 640, 480)
    weight, grid_to_crop = _feathered_weight_grid(mask, crop, feather)
    to_region = compose_affine(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]), invert_affine(matrix))
    warped = warp_affine(weight, compose_affine(to_region, grid_to_crop), (x1 - x0, y1 - y0),
                         interpolation=cv2.INTER_LINEAR, border_mode=cv2.BORDER_CONSTANT)
    reference = np.zeros((480, 640), dtype=np.float32)
    reference[y0:y1, x0:x1] = warped
    changed = result.any(axis=-1)
    assert changed[reference > 0.01].all()
    assert not changed[reference == 0].any()


def test_the_default_paste_feather_follows_the_pasted_regions_size():
    from freecure_edit.imageio.compose import paste_feather

    assert paste_feather(None, (512, 768)) == 8.0  # SD 1.5's size keeps the old fixed 8 px
    assert paste_feather(None, (64, 64)) == 1.0  # the toy world's drawings
    assert paste_feather(None, 2048) == 32.0  # a large face crop, in photo pixels
    assert paste_feather(None, (20, 20)) == 1.0  # never below a pixel
    assert paste_feather(0.0, (512, 512)) == 0.0 and paste_feather(3.0, 64) == 3.0  # a given value is kept


def test_a_whole_image_cure_pastes_with_the_size_scaled_feather(monkeypatch, load_tiny):
    """The cure hands blend_into the feather for the photo's size, not a fixed 8 px."""
    import freecure_edit.api as api
    from freecure_edit import CureConfig, FreeCure
    from cure_fixtures import HAIR_ON_TOP, FixedRegionParser

    seen = []
    real = api.blend_into
    monkeypatch.setattr(api, "blend_into", lambda photo, cured, mask, feather: seen.append(feather) or real(photo, cured, mask, feather))
    curer = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    photo = PIL.Image.new("RGB", (128, 96), (120, 90, 60))
    curer.cure(photo, "a man with red hair", CureConfig(steps=2, detect=False))
    curer.cure(photo, "a man with red hair", CureConfig(steps=2, detect=False, paste_feather_px=5))
    assert seen == [1.5, 5.0]
