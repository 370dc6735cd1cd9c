"""Upright square crops: placement, roll alignment, size and the resampling warnings."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
from face_fixtures import (  # noqa: F401
    ROLL_DEGREES,
    astronaut,
    degrees_between,
    face_packs,
    level_gap,
    load_analyzer,
    rotated_photo,
)

from freecure_edit.errors import ConfigurationError
from freecure_edit.faces import DOWNSCALE_WARNING, UPSCALE_WARNING, DetectedFace, crop_face
from freecure_edit.faces.geometry import apply_affine


@pytest.fixture(scope="module")
def upright(face_packs, load_analyzer) -> DetectedFace:
    return load_analyzer(face_packs.two_faces).detect(astronaut())[0]


@pytest.fixture(scope="module")
def rolled(face_packs, load_analyzer) -> tuple[PIL.Image.Image, DetectedFace]:
    photo = rotated_photo(astronaut(), face_packs.rotation)
    return photo, load_analyzer(face_packs.rolled).detect(photo)[0]


def test_crop_is_square_at_the_requested_size_with_its_face_centred(upright):
    crop = crop_face(astronaut(), upright, size=512, margin=0.6)
    assert crop.image.size == (512, 512) and crop.image.mode == "RGB"
    assert crop.size == 512 and crop.face is upright
    assert crop.matrix.shape == (2, 3) and crop.matrix.dtype == np.float64
    centre = apply_affine(crop.matrix, np.array([upright.center]))[0]
    np.testing.assert_allclose(centre, [255.5, 255.5], atol=1e-9)
    # The margin is in face sizes on every side: 120 px * (1 + 2 * 0.6) = 264 px of photo across.
    assert crop.scale == pytest.approx(512 / 264)


def test_an_unscaled_unrolled_crop_is_the_photo_shifted_with_its_edge_repeated():
    photo = np.asarray(astronaut())
    # Centre (225.5, 121.5) and a 264 px window at 264 px: crop pixel (i, j) is photo pixel (i + 94, j - 10).
    face = DetectedFace(0, (165.5, 61.5, 285.5, 181.5), 0.9, None)
    crop = np.asarray(crop_face(astronaut(), face, size=264, margin=0.6).image)
    np.testing.assert_array_equal(crop[10:], photo[:254, 94:358])
    # Above the photo, its top row is repeated: a plain continuation, not a black bar.
    np.testing.assert_array_equal(crop[:10], np.broadcast_to(photo[0, 94:358], (10, 264, 3)))


def test_a_rolled_face_is_cropped_upright(rolled, upright):
    photo, face = rolled
    assert degrees_between(face.landmarks[0], face.landmarks[1]) == pytest.approx(-ROLL_DEGREES, abs=1e-3)
    crop = crop_face(photo, face, size=512)
    assert level_gap(apply_affine(crop.matrix, face.landmarks)) < 1e-3
    # Upright means it looks like the crop of the unrotated photo, not just that two points line up.
    reference = np.asarray(crop_face(astronaut(), upright, size=512).image).astype(int)
    aligned = np.asarray(crop.image).astype(int)
    unaligned = np.asarray(crop_face(photo, DetectedFace(0, face.box, face.score, None), size=512).image).astype(int)
    centre = np.s_[100:400, 100:400]
    assert np.abs(aligned - reference)[centre].mean() < 3
    assert np.abs(unaligned - reference)[centre].mean() > 30


def test_a_rolled_face_keeps_its_size_in_the_crop(rolled, upright):
    photo, face = rolled
    assert crop_face(photo, face).scale == pytest.approx(crop_face(astronaut(), upright).scale, rel=1e-6)


def test_an_upside_down_face_is_turned_upright(upright):
    photo = astronaut().rotate(180)
    landmarks = np.array([[511.0, 511.0]]) - upright.landmarks
    x0, y0, x1, y1 = upright.box
    face = DetectedFace(0, (511 - x1, 511 - y1, 511 - x0, 511 - y0), 0.9, landmarks)
    turned = np.asarray(crop_face(photo, face).image).astype(int)
    reference = np.asarray(crop_face(astronaut(), upright).image).astype(int)
    assert np.abs(turned - reference)[100:400, 100:400].mean() < 1


def test_no_warning_within_the_thresholds(upright):
    assert crop_face(astronaut(), upright, size=512).warnings == []


def test_a_small_face_warns_that_detail_comes_from_upscaling(upright):
    crop = crop_face(astronaut(), upright, size=1200)
    assert crop.scale > UPSCALE_WARNING
    assert len(crop.warnings) == 1 and "enlarged" in crop.warnings[0] and "face 0" in crop.warnings[0]


def test_a_large_face_warns_that_detail_is_lost(upright):
    crop = crop_face(astronaut(), upright, size=128)
    assert crop.scale < 1 / DOWNSCALE_WARNING
    assert len(crop.warnings) == 1 and "shrunk" in crop.warnings[0]


def test_a_face_without_landmarks_is_cropped_unrolled():
    face = DetectedFace(0, (166.0, 62.0, 286.0, 182.0), 0.9, None)
    crop = crop_face(astronaut(), face, size=264, margin=0.6)
    np.testing.assert_allclose(crop.matrix[:, :2], np.eye(2), atol=1e-12)


@pytest.mark.parametrize("size, margin", [(0, 0.6), (512, -0.1)])
def test_impossible_crop_settings_are_refused(upright, size, margin):
    with pytest.raises(ConfigurationError):
        crop_face(astronaut(), upright, size=size, margin=margin)
