"""The dlib face pack with its real, trained models (dlib-bin and face_recognition_models come with the
test extras) on real photos that ship in installed packages: scikit-image's astronaut, and insightface's
group photo t1.jpg and Tom Hanks crop. Boxes were measured once with dlib 20.0.1 and are checked with a
tolerance; identity is checked against dlib's own same-person threshold (similarity 0.4)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import PIL.Image
import pytest
from face_fixtures import astronaut

from cli_fixtures import assert_one_line_error, cli_models, run_cli, snapshot  # noqa: F401
from freecure_edit.errors import ModelNotFoundError
from freecure_edit.faces import crop_face, load_face_analyzer
from freecure_edit.faces.detected import LEFT_EYE, RIGHT_EYE
from freecure_edit.faces.dlib_pack import SAME_PERSON_SIMILARITY, check_dlib_pack, load_dlib_analyzer
from freecure_edit.faces.geometry import apply_affine, invert_affine
from freecure_edit.imageio import read_parameters

BOX_TOLERANCE = 6  # px
ASTRONAUT_BOX = (175, 76, 266, 167)
T1_BOXES = [(870, 67, 1000, 197), (1118, 283, 1227, 391), (67, 283, 176, 391), (724, 367, 833, 475),
            (450, 295, 558, 403), (275, 176, 365, 266)]


def insightface_photo(name: str) -> Path:
    import insightface

    return Path(insightface.__file__).parent / "data" / "images" / name


@pytest.fixture(scope="module")
def dlib_pack():
    return load_face_analyzer("dlib")


@pytest.fixture(scope="module")
def group_photo():
    return PIL.Image.open(insightface_photo("t1.jpg")).convert("RGB")


def assert_boxes(found, expected):
    assert len(found) == len(expected), [face.box for face in found]
    for box in expected:
        assert any(np.abs(np.subtract(face.box, box)).max() <= BOX_TOLERANCE for face in found), (box, found)


def test_the_astronaut_has_one_face_where_it_was_measured(dlib_pack):
    assert_boxes(dlib_pack.detect(astronaut()), [ASTRONAUT_BOX])


def test_the_group_photo_has_its_six_faces_largest_first(dlib_pack, group_photo):
    found = dlib_pack.detect(group_photo)
    assert_boxes(found, T1_BOXES)
    assert [face.index for face in found] == list(range(6))
    areas = [face.area for face in found]
    assert areas == sorted(areas, reverse=True)


def test_the_landmarks_sit_in_the_face_in_insightfaces_order(dlib_pack):
    face = dlib_pack.detect(astronaut())[0]
    x0, y0, x1, y1 = face.box
    assert face.landmarks.shape == (5, 2) and face.pack_points.shape == (5, 2)
    assert ((face.landmarks[:, 0] > x0) & (face.landmarks[:, 0] < x1)).all()
    # The eye on the image's left first, both in the upper half and level; nose and mouth below them.
    left, right = face.landmarks[LEFT_EYE], face.landmarks[RIGHT_EYE]
    assert left[0] < right[0] and max(left[1], right[1]) < (y0 + y1) / 2
    assert abs(left[1] - right[1]) < 0.1 * face.width
    assert (face.landmarks[2:, 1] > max(left[1], right[1])).all()


def test_a_crop_around_a_dlib_face_is_upright(dlib_pack):
    """The crop rolls the face by its eyes: swapped eyes would turn it upside down."""
    photo = astronaut()
    face = dlib_pack.detect(photo)[0]
    crop = crop_face(photo, face, size=256)
    eyes = apply_affine(crop.matrix, face.landmarks[[LEFT_EYE, RIGHT_EYE]])
    assert eyes[0, 0] < eyes[1, 0] and abs(eyes[0, 1] - eyes[1, 1]) < 1.0
    assert (eyes[:, 1] < 128).all()


def test_the_same_person_is_the_same(dlib_pack):
    photo = astronaut()
    face = dlib_pack.detect(photo)[0]
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=75)
    reencoded = PIL.Image.open(buffer).convert("RGB")
    mirrored = photo.transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT)

    assert dlib_pack.identity_similarity(photo, reencoded, face) > 0.85
    own = dlib_pack.embedding(photo, face)
    mirrored_face = dlib_pack.detect(mirrored)[0]
    assert 1 - np.linalg.norm(own - dlib_pack.embedding(mirrored, mirrored_face)) > SAME_PERSON_SIMILARITY + 0.3


def test_other_people_are_different(dlib_pack, group_photo):
    own = dlib_pack.embedding(astronaut(), dlib_pack.detect(astronaut())[0])
    tom = PIL.Image.open(insightface_photo("Tom_Hanks_54745.png")).convert("RGB")
    others = [(tom, dlib_pack.detect(tom)[0])] + [(group_photo, face) for face in dlib_pack.detect(group_photo)]
    assert len(others) == 7
    for image, face in others:
        assert 1 - np.linalg.norm(own - dlib_pack.embedding(image, face)) < SAME_PERSON_SIMILARITY


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(ModelNotFoundError, match="dlib_face_recognition_resnet_model_v1.dat.*freecure-edit\\[dlib\\]"):
        check_dlib_pack("dlib", tmp_path)


def test_a_damaged_model_file_is_one_clear_error(tmp_path):
    for name in ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"):
        (tmp_path / name).write_bytes(b"not a dlib model")
    with pytest.raises(ModelNotFoundError, match="could not be loaded.*damaged"):
        load_dlib_analyzer("dlib", tmp_path)


@pytest.fixture
def astronaut_png(tmp_path):
    path = tmp_path / "astronaut.png"
    astronaut().save(path)
    return path


def test_without_insightface_the_first_run_uses_dlib_and_says_so(astronaut_png, tmp_path):
    result = run_cli(["faces", astronaut_png, "--json"], env={"INSIGHTFACE_HOME": str(tmp_path / "none")})

    assert result.exit_code == 0, result.stderr
    assert "dlib pack" in result.stderr and "0.4" in result.stderr
    assert len(json.loads(result.stdout)["faces"]) == 1


def test_with_neither_pack_the_error_names_both_ways_out(astronaut_png, tmp_path, monkeypatch):
    monkeypatch.setattr("freecure_edit.faces.dlib_pack.missing_parts", lambda pack, root=None: ["the dlib module"])
    line = assert_one_line_error(run_cli(["faces", astronaut_png], env={"INSIGHTFACE_HOME": str(tmp_path)}), 4)
    assert "buffalo_l" in line and "freecure-edit[dlib]" in line


def test_fix_with_no_pack_named_notes_the_dlib_choice_in_its_json(cli_models, astronaut_png, tmp_path):
    output = tmp_path / "cured.png"
    result = run_cli(["fix", astronaut_png, "--prompt", "a woman with black curly hair", "-o", output,
                      *cli_models.args(steps=2, detect=True), "--json"],
                     env={"INSIGHTFACE_HOME": str(tmp_path / "none")})

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert any("dlib pack" in text for text in report["notes"])
    assert read_parameters(output)["face_pack"] == "dlib"


def crop_footprint(shape, face, crop_size: int) -> np.ndarray:
    """The photo pixels a face's crop covers, grown by one crop pixel (in photo pixels, plus one): the
    paste-back resamples the cured crop, so its edge pixel reaches that far, and nowhere else."""
    crop = crop_face(PIL.Image.new("RGB", shape[::-1]), face, crop_size)
    corners = np.array([[0, 0], [crop_size, 0], [crop_size, crop_size], [0, crop_size]], dtype=np.float64)
    polygon = apply_affine(invert_affine(crop.matrix), corners)
    region = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(region, np.round(polygon).astype(np.int32), 1)
    reach = int(np.ceil(1.0 / crop.scale)) + 1
    return cv2.dilate(region, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).astype(bool)


def test_fix_all_faces_of_the_group_photo_cures_each_and_nothing_else(cli_models, dlib_pack, group_photo, tmp_path):
    source = tmp_path / "t1.png"
    group_photo.save(source)
    output = tmp_path / "t1.cured.png"
    before = snapshot(source)

    result = run_cli(["fix", source, "--prompt", "a person with black curly hair", "-o", output,
                      *cli_models.args(steps=2, detect=True), "--face-pack", "dlib", "--faces", "all",
                      "--paste-feather-px", "0", "--json"])

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(face["index"] for face in report["faces"]) == list(range(6))
    assert all(face["identity_similarity"] is not None for face in report["faces"])
    cured = np.asarray(PIL.Image.open(output).convert("RGB"), dtype=np.int16)
    changed = np.abs(cured - np.asarray(group_photo, dtype=np.int16)).max(axis=-1) > 0
    footprints = [crop_footprint(changed.shape, face, 64) for face in dlib_pack.detect(group_photo)]
    assert not (changed & ~np.logical_or.reduce(footprints)).any(), "a pixel outside every face's crop changed"
    assert all((changed & footprint).any() for footprint in footprints), "a face was left uncured"
    assert snapshot(source) == before


def test_an_identity_forced_low_is_retried_and_exits_6(cli_models, astronaut_png, tmp_path):
    output = tmp_path / "cured.png"
    result = run_cli(["fix", astronaut_png, "--prompt", "a woman with black curly hair", "-o", output,
                      *cli_models.args(steps=2, detect=True), "--face-pack", "dlib",
                      "--min-identity", "1", "--identity-retries", "1", "--json"])

    line = assert_one_line_error(result, 6)
    assert "below --min-identity 1" in line
    report = json.loads(result.stdout)
    assert report["attempts"] == 2 and report["below_threshold"] is True
    assert -1.0 <= report["identity_similarity"] < 1.0


def test_eval_dlib_metric_reads_the_same_face_as_one_and_a_blotted_face_as_no_one():
    from freecure_edit.evaluation.metrics import load_metric
    from freecure_edit.evaluation.metrics.base import Sample

    metric = load_metric("dlib")
    photo = astronaut()
    face = metric.locate_face(photo)
    assert metric.score(Sample(photo, photo.copy(), "x", face))["if"] == pytest.approx(1.0, abs=1e-6)
    blotted = photo.copy()
    blotted.paste((128, 128, 128), tuple(int(v) for v in face.box))
    assert metric.score(Sample(photo, blotted, "x", face))["if"] < SAME_PERSON_SIMILARITY
    assert metric.describe()["pack"] == "dlib"


def test_the_mmod_detector_finds_the_astronauts_face_too():
    found = load_face_analyzer("dlib-mmod").detect(astronaut())
    assert len(found) == 1
    # MMOD's box is its own (measured once, without upsampling: (168, 69, 264, 165)).
    assert np.abs(np.subtract(found[0].box, (168, 69, 264, 165))).max() <= BOX_TOLERANCE


def test_a_batch_on_the_first_runs_pack_resumes_as_done_and_its_dry_run_agrees(cli_models, tmp_path):
    """The pack chosen for the user is part of each item's parameters: a resumed batch, and its dry run,
    see the finished photo as done."""
    photos = tmp_path / "photos"
    photos.mkdir()
    astronaut().save(photos / "a.png")
    args = ["batch", photos, "-o", tmp_path / "out", *cli_models.args(steps=2, detect=True),
            "--prompt", "a woman with black curly hair"]
    env = {"INSIGHTFACE_HOME": str(tmp_path / "none")}
    assert run_cli(args, env=env).exit_code == 0
    dry = run_cli([*args, "--resume", "--dry-run"], env=env)
    again = run_cli([*args, "--resume"], env=env)
    assert dry.exit_code == 0 and again.exit_code == 0, (dry.stderr, again.stderr)
    assert "a.png -> a.png: black curly hair (done)" in dry.stdout and "1 done already" in dry.stdout
    assert json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[-1])["status"] == "ok"
