"""Detection through insightface's SCRFD decoding, and choosing which faces to cure."""

from __future__ import annotations

import numpy as np
import pytest
from face_fixtures import ASTRONAUT_FACE, SHUTTLE_FACE, astronaut, face_packs, load_analyzer  # noqa: F401

from freecure_edit.errors import ConfigurationError, InputImageError
from freecure_edit.faces import DetectedFace, select_faces


@pytest.fixture(scope="module")
def faces(face_packs, load_analyzer) -> list[DetectedFace]:
    return load_analyzer(face_packs.two_faces).detect(astronaut())


def test_the_planned_boxes_and_landmarks_are_detected(faces):
    assert len(faces) == 2
    for face, planned in zip(faces, [ASTRONAUT_FACE, SHUTTLE_FACE]):
        np.testing.assert_allclose(face.box, planned.box, atol=1e-3)
        np.testing.assert_allclose(face.landmarks, planned.landmarks, atol=1e-3)
        assert face.score == pytest.approx(planned.score, abs=1e-6)
        assert face.landmarks.shape == (5, 2)


def test_faces_come_largest_first_not_most_confident_first(faces):
    # The shuttle "face" is the more confident one, so insightface lists it first.
    assert SHUTTLE_FACE.score > ASTRONAUT_FACE.score
    assert [face.index for face in faces] == [0, 1]
    assert faces[0].area > faces[1].area
    assert faces[0].area == pytest.approx(120 * 120, abs=0.1)


def test_detection_accepts_any_image_mode(face_packs, load_analyzer):
    found = load_analyzer(face_packs.two_faces).detect(astronaut().convert("RGBA"))
    np.testing.assert_allclose(found[0].box, ASTRONAUT_FACE.box, atol=1e-3)


def test_largest_is_the_default_selection(faces):
    assert select_faces(faces) == [faces[0]]
    assert select_faces(list(reversed(faces)), "largest") == [faces[0]]


def test_all_and_indices_select_in_the_order_given_each_face_once(faces):
    assert select_faces(faces, "all") == faces
    assert select_faces(faces, [1]) == [faces[1]]
    assert select_faces(faces, [1, 0, 1]) == [faces[1], faces[0]]
    assert select_faces(faces, 1) == [faces[1]]


@pytest.mark.parametrize("which", [[2], [-1], [0, 5], ["0"]])
def test_a_bad_index_names_the_valid_range(faces, which):
    with pytest.raises(ConfigurationError, match=r"valid indices are 0\.\.1"):
        select_faces(faces, which)


def test_unknown_selection_words_and_empty_lists_are_refused(faces):
    with pytest.raises(ConfigurationError, match="'largest', 'all'"):
        select_faces(faces, "biggest")
    with pytest.raises(ConfigurationError, match="empty"):
        select_faces(faces, [])


def test_no_face_at_all_suggests_no_detect():
    with pytest.raises(InputImageError, match="--no-detect"):
        select_faces([], "largest")
