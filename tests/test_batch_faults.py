"""`freecure-edit batch` against what goes wrong with files: transparent photos for JPEG outputs, a
read-only output folder, a disk that fills up mid-batch, file names that are not UTF-8, outputs
damaged and inputs replaced between a run and its --resume, and the manifest's permissions.

Most runs use a prompt that names no attribute: the photo is copied without any model, through the
same plan, writing, manifest and resume code as a cure."""

from __future__ import annotations

import json
import os
import stat

import PIL.Image
import pytest

from batch_fixtures import HAIR, batch_args, manifest, mtimes, photo_folder, tree
from cli_fixtures import assert_one_line_error, cli_models, run_cli, write_photo  # noqa: F401
from output_faults import NO_ATTRIBUTE, fill_the_disk, needs_read_only_mount, run_with_read_only, transparent_photo

NAMES = ["a.png", "b.png", "c.png"]


def _batch(input_dir, output_dir, *extra, prompt=NO_ATTRIBUTE):
    """`batch` with no model: a model load would fail with exit code 4."""
    return run_cli(["batch", input_dir, "-o", output_dir, "--prompt", prompt, "--device", "cpu",
                    "--model", input_dir.parent / "no-model", *extra])


def test_transparent_inputs_for_jpeg_outputs_are_recorded_as_failed_before_any_model_loads(tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    transparent_photo(photos / "t.png")
    transparent_photo(photos / "u.png", seed=1)
    output = tmp_path / "out"

    # HAIR names an attribute: had any input been cured, the missing model would have ended the run.
    result = _batch(photos, output, "--format", "jpg", prompt=HAIR)

    line = assert_one_line_error(result, 2)
    assert "2 of 2 inputs failed" in line
    assert "t.png, u.png have transparency, which JPEG cannot store" in result.stderr
    lines = manifest(output)
    for name in ("t", "u"):
        assert lines[f"{name}.png"]["status"] == "failed" and lines[f"{name}.png"]["exit_code"] == 2
        assert lines[f"{name}.png"]["error"] == (
            f"{output / (name + '.jpg')}: JPEG cannot store the transparency of {name}.png; "
            "use --format png or webp instead")
    assert tree(output) == {"manifest.jsonl"}


def test_a_transparent_input_fails_alone_and_the_others_go_into_jpeg(tmp_path):
    photos = photo_folder(tmp_path / "in", ["a.png"])
    transparent_photo(photos / "t.png")
    transparent_photo(photos / "opaque.png", opaque=True)
    output = tmp_path / "out"

    result = _batch(photos, output, "--format", "jpg")

    assert_one_line_error(result, 2)
    lines = manifest(output)
    assert {name: line["status"] for name, line in lines.items()} == {
        "a.png": "ok", "opaque.png": "ok", "t.png": "failed"}
    assert tree(output) == {"a.jpg", "opaque.jpg", "manifest.jsonl"}

    listing = _batch(photos, tmp_path / "other", "--format", "jpg", "--dry-run")
    assert "t.png -> t.jpg: refused: JPEG cannot store its transparency" in listing.stdout


def test_an_error_while_writing_names_the_real_output_not_the_working_file(tmp_path, monkeypatch):
    import freecure_edit.imageio
    from freecure_edit.errors import FreeCureError

    def failing_save(image, out_path, **options):
        raise FreeCureError(f"{out_path}: cannot encode it (an encoder fault)")

    monkeypatch.setattr(freecure_edit.imageio, "save_image", failing_save)
    photos = photo_folder(tmp_path / "in", ["sub/a.png"])
    output = tmp_path / "out"

    result = _batch(photos, output, "--recursive")

    assert_one_line_error(result, 1)
    assert manifest(output)["sub/a.png"]["error"] == f"{output / 'sub' / 'a.png'}: cannot encode it (an encoder fault)"
    assert f"failed: sub/a.png: {output / 'sub' / 'a.png'}: cannot encode it" in result.stdout


@needs_read_only_mount
def test_a_read_only_output_folder_is_refused_before_anything_runs(tmp_path):
    photos = photo_folder(tmp_path / "in", ["a.png"])

    finished = run_with_read_only(tmp_path / "ro", ["batch", photos, "-o", tmp_path / "ro" / "out", "--prompt", HAIR,
                                                    "--device", "cpu", "--model", tmp_path / "no-model"])

    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.strip().splitlines()[-1] == (
        f"freecure-edit: error: --output-dir {tmp_path / 'ro' / 'out'}: cannot write there (in {tmp_path / 'ro'}): "
        "Read-only file system")


def test_a_full_disk_ends_the_batch_with_exit_7_the_manifest_written_and_resume_finishes(tmp_path, monkeypatch):
    photos = photo_folder(tmp_path / "in", NAMES)
    output = tmp_path / "out"
    with monkeypatch.context() as patch:
        fill_the_disk(patch, output / ".freecure" / "tmp", after=1)  # the second image does not fit
        result = _batch(photos, output)

    line = assert_one_line_error(result, 7)
    assert line == (f"freecure-edit: error: {output / 'b.png'}: cannot write it: No space left on device; "
                    "free some space, then run again with --resume")
    lines = manifest(output)
    assert {name: line["status"] for name, line in lines.items()} == {"a.png": "ok", "b.png": "failed",
                                                                     "c.png": "skipped"}
    assert lines["b.png"]["exit_code"] == 7 and ".freecure" not in lines["b.png"]["error"]
    assert tree(output) == {"a.png", "manifest.jsonl"}, "no partial image, no working file"
    kept = mtimes(output, ["a.png"])

    resumed = _batch(photos, output, "--resume")

    assert resumed.exit_code == 0, resumed.stderr
    assert all(line["status"] == "ok" for line in manifest(output).values())
    assert mtimes(output, ["a.png"]) == kept


def test_when_even_the_manifest_does_not_fit_the_error_says_so_and_resume_still_finishes(tmp_path, monkeypatch):
    photos = photo_folder(tmp_path / "in", NAMES)
    output = tmp_path / "out"
    with monkeypatch.context() as patch:
        fill_the_disk(patch, output, after=2)  # the first image and its manifest line, then nothing
        result = _batch(photos, output)

    line = assert_one_line_error(result, 7)
    assert f"{output / 'b.png'}: cannot write it: No space left on device" in line
    assert f"{output / 'manifest.jsonl'} could not be written either (No space left on device)" in line

    resumed = _batch(photos, output, "--resume")

    assert resumed.exit_code == 0, resumed.stderr
    assert set(manifest(output)) == set(NAMES) and tree(output) == set(NAMES) | {"manifest.jsonl"}


def test_names_that_are_not_utf8_are_cured_recorded_and_resumed(cli_models, tmp_path):
    photos = photo_folder(tmp_path / "in", ["plain.png"])
    cafe, broken = os.fsdecode(b"caf\xe9.png"), os.fsdecode(b"bad\xff.png")
    write_photo(photos / cafe, seed=1)
    (photos / broken).write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    output = tmp_path / "out"
    args = [*batch_args(cli_models, photos, output), "--prompt", HAIR]

    result = run_cli(args)

    assert_one_line_error(result, 3)
    raw = (output / "manifest.jsonl").read_bytes().decode("utf-8")  # strict: valid UTF-8 throughout
    lines = {line["input"]: line for line in map(json.loads, raw.splitlines())}
    assert set(lines) == {"plain.png", "caf\ufffd.png", "bad\ufffd.png"}
    assert lines["caf\ufffd.png"]["status"] == "ok" and lines["bad\ufffd.png"]["status"] == "failed"
    assert lines["caf\ufffd.png"]["input_bytes"] == lines["caf\ufffd.png"]["output_bytes"] == "caf%E9.png"
    assert lines["plain.png"]["input_bytes"] is None and lines["plain.png"]["output_bytes"] is None
    assert "bad\ufffd.png" in lines["bad\ufffd.png"]["error"]
    assert os.path.isfile(os.path.join(os.fsencode(output), b"caf\xe9.png"))
    assert "failed: bad\ufffd.png:" in result.stdout
    kept = mtimes(output, ["plain.png", cafe])

    (photos / broken).unlink()
    write_photo(photos / broken, seed=2)
    resumed = run_cli([*args, "--resume"])

    assert resumed.exit_code == 0, resumed.stderr
    assert "2 of 3 inputs are done already and kept" in resumed.stderr
    assert mtimes(output, ["plain.png", cafe]) == kept
    assert all(line["status"] == "ok" for line in manifest(output).values())


def test_resume_checks_that_outputs_open_and_keys_on_the_input_content(tmp_path):
    names = ["damaged.png", "garbled.png", "replaced.png", "touched.png", "same.png"]
    photos = photo_folder(tmp_path / "in", names)
    output = tmp_path / "out"
    assert _batch(photos, output).exit_code == 0
    first = manifest(output)
    assert first["same.png"]["input_file"]["size"] == (photos / "same.png").stat().st_size
    before = mtimes(output, names)

    (output / "damaged.png").write_bytes(b"")
    garbled = (output / "garbled.png").read_bytes()
    (output / "garbled.png").write_bytes(garbled[:40] + bytes(len(garbled) - 40))  # same size, not an image
    write_photo(photos / "replaced.png", seed=99)
    os.utime(photos / "touched.png", ns=(1, 1))  # a copy without its times: same content
    after_damage = mtimes(output, names)

    resumed = _batch(photos, output, "--resume")

    assert resumed.exit_code == 0, resumed.stderr
    assert "2 of 5 inputs are done already and kept" in resumed.stderr
    now = mtimes(output, names)
    assert {name for name in names if now[name] != after_damage[name]} == {"damaged.png", "garbled.png",
                                                                          "replaced.png"}
    assert now["same.png"] == before["same.png"] and now["touched.png"] == before["touched.png"]
    with PIL.Image.open(output / "replaced.png") as redone, PIL.Image.open(photos / "replaced.png") as source:
        assert redone.tobytes() == source.convert("RGB").tobytes()


@pytest.mark.parametrize("umask", [0o002, 0o077])
def test_the_manifest_follows_the_umask_like_the_outputs(tmp_path, umask):
    photos = photo_folder(tmp_path / "in", ["a.png"])
    previous = os.umask(umask)
    try:
        result = _batch(photos, tmp_path / "out")
    finally:
        os.umask(previous)

    assert result.exit_code == 0, result.stderr
    modes = {name: stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) for name in ("a.png", "manifest.jsonl")}
    assert modes == {"a.png": 0o666 & ~umask, "manifest.jsonl": 0o666 & ~umask}
