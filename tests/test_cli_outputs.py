"""`fix`: whatever the output cannot take is refused before any model loads, with exit code 2 and the
output named (a transparent photo into JPEG, a read-only or forbidden folder); a full disk ends with
exit code 7 and leaves no partial file; faces are detected once per photo."""

from __future__ import annotations

import PIL.Image
import pytest
from face_fixtures import astronaut, face_packs  # noqa: F401

from cli_fixtures import assert_one_line_error, cli_models, run_cli, snapshot, write_photo  # noqa: F401
from output_faults import (
    NO_ATTRIBUTE, fill_the_disk, needs_read_only_mount, refuse_creating_files_in, run_with_read_only,
    transparent_photo,
)

HAIR = "a woman with black curly hair"


def _files(folder):
    return {path.name: snapshot(path) for path in folder.iterdir()}


@pytest.mark.parametrize("prompt", [HAIR, NO_ATTRIBUTE], ids=["cure", "copy"])
def test_transparency_into_jpeg_is_refused_before_any_model_loads(tmp_path, prompt):
    photo = transparent_photo(tmp_path / "t.png")
    before = _files(tmp_path)

    # A model that does not exist: loading it would end with exit code 4, not 2.
    result = run_cli(["fix", photo, "--prompt", prompt, "-o", tmp_path / "t.jpg", "--device", "cpu",
                      "--no-detect", "--model", tmp_path / "no-model"])

    line = assert_one_line_error(result, 2)
    assert f"{tmp_path / 't.jpg'}: JPEG cannot store the transparency of {photo}" in line
    assert ".png or .webp" in line and "estimated time" not in result.stderr
    assert _files(tmp_path) == before


def test_an_opaque_alpha_channel_goes_into_jpeg(tmp_path):
    photo = transparent_photo(tmp_path / "o.png", opaque=True)

    result = run_cli(["fix", photo, "--prompt", NO_ATTRIBUTE, "-o", tmp_path / "o.jpg", "--device", "cpu"])

    assert result.exit_code == 0, result.stderr
    with PIL.Image.open(tmp_path / "o.jpg") as written:
        assert written.format == "JPEG" and written.mode == "RGB"


@needs_read_only_mount
def test_a_read_only_file_system_is_refused_before_any_model_loads(tmp_path):
    photo = write_photo(tmp_path / "photo.png")

    finished = run_with_read_only(tmp_path / "ro", ["fix", photo, "--prompt", HAIR, "-o", tmp_path / "ro" / "x.png",
                                                    "--device", "cpu", "--no-detect", "--model", tmp_path / "no-model"])

    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.strip().splitlines()[-1] == (
        f"freecure-edit: error: the output's folder {tmp_path / 'ro'}: cannot write there: Read-only file system")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["photo.png", "ro"]


@pytest.mark.parametrize("where", ["output", "intermediates"])
def test_a_folder_without_write_permission_is_refused_before_any_model_loads(tmp_path, monkeypatch, where):
    photo = write_photo(tmp_path / "photo.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    refuse_creating_files_in(monkeypatch, locked)
    extra = ["-o", locked / "x.png"] if where == "output" else ["--save-intermediates", locked / "steps"]

    result = run_cli(["fix", photo, "--prompt", HAIR, "--device", "cpu", "--no-detect",
                      "--model", tmp_path / "no-model", *extra])

    line = assert_one_line_error(result, 2)
    shown = f"the output's folder {locked}" if where == "output" else f"--save-intermediates {locked / 'steps'}"
    assert line.startswith(f"freecure-edit: error: {shown}: cannot write there") and "Permission denied" in line
    assert list(locked.iterdir()) == []


def test_a_full_disk_exits_7_naming_the_output_and_leaves_no_partial_file(tmp_path, monkeypatch):
    photo = write_photo(tmp_path / "photo.png")
    before = _files(tmp_path)
    tried = fill_the_disk(monkeypatch, tmp_path)

    result = run_cli(["fix", photo, "--prompt", NO_ATTRIBUTE, "--device", "cpu", "-o", tmp_path / "x.png"])

    line = assert_one_line_error(result, 7)
    assert f"{tmp_path / 'x.png'}: cannot write it" in line and "No space left on device" in line
    assert tried["files"] == 1 and _files(tmp_path) == before


def test_fix_detects_the_faces_once_even_across_identity_retries(cli_models, face_packs, tmp_path, monkeypatch):
    from freecure_edit.faces.analyzer import FaceAnalyzer

    astronaut().save(tmp_path / "a.png")
    calls = []
    real_detect = FaceAnalyzer.detect
    monkeypatch.setattr(FaceAnalyzer, "detect", lambda self, rgb: calls.append(rgb.size) or real_detect(self, rgb))

    result = run_cli(["fix", tmp_path / "a.png", "--prompt", HAIR, "-o", tmp_path / "x.png",
                      *cli_models.args(steps=1, detect=True), "--face-root", face_packs.root,
                      "--min-identity", "1", "--identity-retries", "1", "--json"])

    assert result.exit_code == 6, result.stderr  # below an identity of 1: both attempts ran
    assert calls == [(512, 512)]
    assert '"attempts": 2' in result.stdout


def test_a_name_that_just_fits_is_written_atomically_as_any_other(tmp_path):
    """The temporary file's name is longer than the final one unless it is cut: a name near the file
    system's limit (255 bytes here) must not fail after the cure."""
    from freecure_edit.imageio import save_image
    from freecure_edit.imageio.atomic import name_limit

    limit = name_limit(tmp_path)
    for name in ["a" * (limit - 4) + ".png", "é" * ((limit - 4) // 2) + ".png"]:
        target = tmp_path / name
        assert len(name.encode()) <= limit
        save_image(PIL.Image.new("RGB", (8, 8), (10, 200, 30)), target)
        assert target.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_a_name_too_long_for_the_file_system_is_refused_before_any_model_loads(tmp_path):
    photo = write_photo(tmp_path / "in.png")
    output = tmp_path / ("b" * 300 + ".png")
    result = run_cli(["fix", photo, "--prompt", "a woman with red hair", "-o", output,
                      "--model", tmp_path / "no-model", "--no-detect"])
    line = assert_one_line_error(result, 2)
    assert "file name is 304 bytes" in line and "no-model" not in result.stderr
