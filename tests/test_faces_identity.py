"""ArcFace identity similarity through insightface's recogniser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from face_fixtures import astronaut, face_packs, load_analyzer  # noqa: F401

from freecure_edit.errors import ModelNotFoundError
from freecure_edit.faces import DetectedFace, crop_face, paste_back
from freecure_edit.faces.identity import alignment_landmarks, cosine_similarity


@pytest.fixture(scope="module")
def analyzer(face_packs, load_analyzer):
    return load_analyzer(face_packs.two_faces)


@pytest.fixture(scope="module")
def face(analyzer) -> DetectedFace:
    return analyzer.detect(astronaut())[0]


def test_identical_images_are_the_same_identity(analyzer, face):
    assert analyzer.identity_similarity(astronaut(), astronaut(), face) == pytest.approx(1.0, abs=1e-6)


def test_an_unchanged_paste_keeps_identity_and_a_replaced_face_loses_it(analyzer, face):
    photo = astronaut()
    crop = crop_face(photo, face, size=512)
    kept = paste_back(photo, crop.image, crop, torch.ones(8, 8), feather_px=4)
    grey = paste_back(photo, crop.image.convert("L").convert("RGB").rotate(90), crop, torch.ones(8, 8), feather_px=4)
    same = analyzer.identity_similarity(photo, kept, face)
    other = analyzer.identity_similarity(photo, grey, face)
    assert same > 0.999
    assert -1.0 <= other <= 1.0
    assert other < 0.9


def test_the_two_faces_of_a_photo_differ(analyzer):
    photo = astronaut()
    first, second = analyzer.detect(photo)
    assert cosine_similarity(analyzer.embedding(photo, first), analyzer.embedding(photo, second)) < 0.99


def test_the_input_landmarks_are_reused_on_a_resized_image(analyzer, face):
    photo = astronaut()
    half = photo.resize((256, 256))
    # At the same place, the resized face matches; at the unscaled landmarks it would be elsewhere.
    assert analyzer.identity_similarity(photo, half, face) > 0.99
    assert cosine_similarity(analyzer.embedding(photo, face), analyzer.embedding(half, face)) < 0.9


def test_without_landmarks_the_template_is_laid_over_the_box(face):
    boxed = DetectedFace(face.index, face.box, face.score, None)
    points = alignment_landmarks(boxed)
    assert points.shape == (5, 2)
    assert points[0, 1] == pytest.approx(points[1, 1], abs=0.5)  # level eyes
    assert face.box[0] < points[:, 0].min() < points[:, 0].max() < face.box[2]


def test_cosine_is_bounded_and_safe_on_zero_vectors():
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([-2.0, 0.0])) == -1.0
    assert cosine_similarity(np.zeros(4), np.ones(4)) == 0.0


def test_a_pack_without_recogniser_says_so_in_one_line(face_packs, load_analyzer, face):
    detector_only = load_analyzer(face_packs.rolled)
    with pytest.raises(ModelNotFoundError, match="no recognition model.*w600k_r50.onnx") as caught:
        detector_only.identity_similarity(astronaut(), astronaut(), face)
    assert "\n" not in str(caught.value)
