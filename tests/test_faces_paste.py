"""Paste-back: the crop undone, a feathered blend, and nothing else in the photo touched."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from face_fixtures import astronaut, face_packs, load_analyzer  # noqa: F401

from freecure_edit.errors import ConfigurationError
from freecure_edit.faces import DetectedFace, crop_face, paste_back
from freecure_edit.faces.geometry import apply_affine, invert_affine


@pytest.fixture(scope="module")
def faces(face_packs, load_analyzer) -> list[DetectedFace]:
    return load_analyzer(face_packs.two_faces).detect(astronaut())


def solid(colour: tuple[int, int, int], size: int) -> PIL.Image.Image:
    return PIL.Image.new("RGB", (size, size), colour)


def disc(resolution: int, radius_fraction: float) -> torch.Tensor:
    """A centred disc mask on a square grid, its radius a fraction of the side."""
    coordinates = (torch.arange(resolution) + 0.5) / resolution - 0.5
    y, x = torch.meshgrid(coordinates, coordinates, indexing="ij")
    return ((x**2 + y**2).sqrt() <= radius_fraction).float()


def changed(before: PIL.Image.Image, after: PIL.Image.Image) -> np.ndarray:
    return (np.asarray(before) != np.asarray(after)).any(axis=-1)


def test_an_unchanged_crop_pasted_everywhere_gives_the_photo_back(faces):
    photo = astronaut()
    for size in (256, 512, 1024):
        crop = crop_face(photo, faces[0], size=size)
        result = paste_back(photo, crop.image, crop, torch.ones(64, 64), feather_px=0)
        difference = np.abs(np.asarray(result).astype(int) - np.asarray(photo).astype(int))
        face_area = difference[70:180, 170:280]
        assert face_area.mean() < 2.5, size
        assert np.percentile(face_area, 99) < 20, size


def test_pixels_outside_the_feathered_mask_are_bit_identical(faces):
    photo = astronaut()
    crop = crop_face(photo, faces[0], size=512)
    feather = 6.0
    result = paste_back(photo, solid((255, 0, 255), 512), crop, disc(128, 0.2), feather_px=feather)
    touched = changed(photo, result)
    # The disc's centre is the face's centre; its radius is 0.2 of the crop's 264 photo pixels. The
    # feather grows it by a square (compose.feathered_weight), reaching sqrt(2) further on diagonals;
    # 3 px more for the 128-px mask's staircase (2 photo px a step) and bilinear resampling.
    cx, cy = faces[0].center
    ys, xs = np.mgrid[0:512, 0:512]
    distance = np.hypot(xs - cx, ys - cy)
    radius = 0.2 * 264
    outside = distance > radius + feather * np.sqrt(2) + 3
    assert touched.any() and not touched[outside].any()
    np.testing.assert_array_equal(np.asarray(result)[outside], np.asarray(photo)[outside])
    # Inside the mask the cured pixels replace the photo's entirely.
    assert (np.asarray(result)[distance < radius - 2] == [255, 0, 255]).all()


def test_the_feather_is_measured_in_photo_pixels(faces):
    photo = astronaut()
    mask = disc(128, 0.2)
    reach = {}
    for size in (256, 1024):
        crop = crop_face(photo, faces[0], size=size)
        for feather in (0.0, 12.0):
            touched = changed(photo, paste_back(photo, solid((0, 255, 0), size), crop, mask, feather_px=feather))
            # Sideways, the square growth of the feather reaches exactly its radius.
            reach[size, feather] = np.abs(np.nonzero(touched)[1] - faces[0].center[0]).max()
    for size in (256, 1024):
        assert reach[size, 12.0] - reach[size, 0.0] == pytest.approx(12.0, abs=1.5)
    assert reach[256, 12.0] == pytest.approx(reach[1024, 12.0], abs=1.5)


def test_two_faces_are_each_pasted_once_and_nothing_else_changes(faces):
    photo = astronaut()
    result = photo
    supports = []
    for face, colour in zip(faces, [(255, 0, 0), (0, 0, 255)]):
        crop = crop_face(photo, face, size=512)
        before = result
        result = paste_back(result, solid(colour, 512), crop, disc(64, 0.25), feather_px=4)
        supports.append(changed(before, result))
    first, second = supports
    assert first.any() and second.any()
    assert not (first & second).any(), "the second paste reached into the first face"
    np.testing.assert_array_equal(np.asarray(result)[~(first | second)], np.asarray(photo)[~(first | second)])
    pixels = np.asarray(result)
    (ax, ay), (bx, by) = (np.round(face.center).astype(int) for face in faces)
    assert tuple(pixels[ay, ax]) == (255, 0, 0)
    assert tuple(pixels[by, bx]) == (0, 0, 255)


def test_a_rolled_crop_lands_back_where_it_came_from(faces):
    photo = astronaut()
    face = faces[0]
    crop = crop_face(photo, face, size=512)
    # Mark the left eye in the crop; it must come back at the left eye of the photo.
    eye = apply_affine(crop.matrix, face.landmarks[:1])[0]
    coordinates = torch.arange(512).float()
    y, x = torch.meshgrid(coordinates, coordinates, indexing="ij")
    mask = (((x - eye[0]) ** 2 + (y - eye[1]) ** 2).sqrt() <= 6).float()
    touched = changed(photo, paste_back(photo, solid((0, 255, 255), 512), crop, mask, feather_px=0))
    ys, xs = np.nonzero(touched)
    np.testing.assert_allclose([xs.mean(), ys.mean()], face.landmarks[0], atol=1.0)
    np.testing.assert_allclose(apply_affine(invert_affine(crop.matrix), [eye])[0], face.landmarks[0], atol=1e-9)


def test_an_all_zero_mask_returns_the_photo_unchanged(faces):
    photo = astronaut()
    crop = crop_face(photo, faces[0], size=512)
    result = paste_back(photo, solid((0, 0, 0), 512), crop, torch.zeros(32, 32), feather_px=8)
    np.testing.assert_array_equal(np.asarray(result), np.asarray(photo))


def test_mask_resolution_does_not_matter(faces):
    photo = astronaut()
    crop = crop_face(photo, faces[0], size=512)
    coarse = paste_back(photo, solid((9, 9, 9), 512), crop, torch.ones(8, 8), feather_px=0)
    fine = paste_back(photo, solid((9, 9, 9), 512), crop, torch.ones(512, 512), feather_px=0)
    np.testing.assert_array_equal(np.asarray(coarse), np.asarray(fine))


def test_paste_into_a_photo_with_alpha_returns_rgb_and_a_bad_mask_is_refused(faces):
    photo = astronaut().convert("RGBA")
    crop = crop_face(photo, faces[0], size=256)
    assert paste_back(photo, crop.image, crop, torch.ones(4, 4), feather_px=2).mode == "RGB"
    with pytest.raises(ConfigurationError, match=r"\(h, w\)"):
        paste_back(photo, crop.image, crop, torch.ones(1, 4, 4), feather_px=2)
