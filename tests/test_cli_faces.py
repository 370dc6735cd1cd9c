"""`freecure-edit faces`, and `fix` with face detection: tiny insightface packs with planned faces on the
astronaut portrait (see face_fixtures)."""

from __future__ import annotations

import json

import pytest
from face_fixtures import ASTRONAUT_FACE, SHUTTLE_FACE, astronaut, face_packs  # noqa: F401

from cli_fixtures import assert_one_line_error, cli_models, run_cli, snapshot  # noqa: F401
from freecure_edit.imageio import read_parameters


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("astronaut") / "astronaut.png"
    astronaut().save(path)
    return path


def test_faces_lists_each_face_largest_first_and_flags_the_small_one(face_packs, astronaut_png):
    result = run_cli(["faces", astronaut_png, "--face-root", face_packs.root, "--json"])

    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)["faces"]
    assert [face["index"] for face in found] == [0, 1]
    assert found[0]["box"] == pytest.approx(list(ASTRONAUT_FACE.box), abs=0.1)
    assert found[1]["box"] == pytest.approx(list(SHUTTLE_FACE.box), abs=0.1)
    assert found[1]["score"] == pytest.approx(SHUTTLE_FACE.score, abs=1e-4)
    # At a 512 px crop, the 120 px face is enlarged under 2x, the 48 px one far more.
    assert [face["too_small"] for face in found] == [False, True]
    assert found[1]["warnings"] and "small" in found[1]["warnings"][0]


def test_the_text_listing_has_one_line_per_face(face_packs, astronaut_png):
    result = run_cli(["faces", astronaut_png, "--face-root", face_packs.root])

    lines = result.stdout.splitlines()
    assert lines[0] == f"2 face(s) in {astronaut_png}, largest first:"
    assert "120x120 px" in lines[1] and "too small" not in lines[1]
    assert "48x48 px" in lines[2] and "too small: enlarged" in lines[2]


def test_faces_without_the_named_pack_exits_4(astronaut_png, tmp_path):
    line = assert_one_line_error(run_cli(["faces", astronaut_png, "--face-pack", "buffalo_l", "--face-root", tmp_path]), 4)
    assert "buffalo_l" in line and "--face-root" in line


def test_fix_cures_every_face_and_exits_6_below_the_identity_threshold(cli_models, face_packs, astronaut_png, tmp_path):
    output = tmp_path / "cured.png"
    before = snapshot(astronaut_png)

    result = run_cli(["fix", astronaut_png, "--prompt", "a woman with black curly hair", "-o", output,
                      *cli_models.args(detect=True), "--face-root", face_packs.root, "--faces", "all",
                      "--omega", "4", "--min-identity", "1", "--identity-retries", "0", "--json"])

    line = assert_one_line_error(result, 6)
    assert "below --min-identity 1" in line and str(output) in line
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["exit_code"] == 6 and report["below_threshold"] is True
    assert [face["index"] for face in report["faces"]] == [0, 1]
    assert report["identity_similarity"] < 1
    assert report["estimate"]["total_evaluations"] == report["stats"]["total_evaluations"]
    assert read_parameters(output)["face_pack"] == "buffalo_l"
    assert snapshot(astronaut_png) == before
