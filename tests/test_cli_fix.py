"""`freecure-edit fix` on tiny models: the output, --json, reproducible bytes, and every refusal with
its exit code, one line, the input untouched and nothing left behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from cli_fixtures import STEPS, assert_one_line_error, cli_models, run_cli, snapshot, write_photo  # noqa: F401
from freecure_edit.cure.config import DRAFT
from freecure_edit.errors import IdentityBelowThresholdError
from freecure_edit.imageio import read_parameters

HAIR = "a woman with black curly hair"


@pytest.fixture(scope="module")
def first_run(cli_models, tmp_path_factory):
    """One cure with the default output name and the intermediates, shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("fix")
    photo = write_photo(folder / "photo.png")
    before = snapshot(photo)
    result = run_cli(["fix", photo, "--prompt", HAIR, *cli_models.args(), "--save-intermediates", folder / "steps"])
    return folder, photo, before, result


@pytest.fixture(scope="module")
def json_run(cli_models, first_run):
    """The same cure again, to another output, with --json."""
    folder, photo, _, _ = first_run
    result = run_cli(["fix", photo, "--prompt", HAIR, *cli_models.args(), "-o", folder / "again.png", "--json"])
    return folder, result


def test_fix_writes_the_cure_next_to_the_input_and_leaves_the_input_alone(first_run):
    folder, photo, before, result = first_run

    assert result.exit_code == 0, result.stderr
    output = folder / "photo.cured.png"
    assert re.fullmatch(rf"cured 'black curly hair' -> {re.escape(str(output))}; [\d.]+ m?s\n", result.stdout)
    assert snapshot(photo) == before
    with PIL.Image.open(output) as cured:
        assert cured.size == (64, 48)
    stored = read_parameters(output)
    assert stored["prompt"] == HAIR and stored["config"]["steps"] == STEPS and stored["parser"] == "segformer"
    assert {"foundation.png", "mask-hair.png", "mask-overlay.png"} <= {p.name for p in (folder / "steps").iterdir()}
    assert "freecure-edit: note: estimated time about" in result.stderr
    assert "FASA on the photo" in result.stderr and "Traceback" not in result.stderr


def test_json_is_the_only_thing_on_stdout(json_run):
    folder, result = json_run

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["output"] == str(folder / "again.png")
    assert [a["name"] for a in report["attributes"]] == ["hair"]
    assert report["estimate"]["total_evaluations"] == report["stats"]["total_evaluations"]
    assert "estimated time" in result.stderr


def test_the_same_inputs_give_the_same_bytes(first_run, json_run):
    folder, _, _, _ = first_run
    assert json_run[1].exit_code == 0, json_run[1].stderr

    assert (folder / "photo.cured.png").read_bytes() == (folder / "again.png").read_bytes()


def _photo_only(folder):
    write_photo(folder / "photo.png")


def _corrupt_png(folder):
    whole = write_photo(folder / "whole.png").read_bytes()
    (folder / "whole.png").unlink()
    (folder / "photo.png").write_bytes(whole[: len(whole) // 2])


# (name, how to prepare the folder, extra arguments, exit code, part of the message)
REFUSALS = [
    ("missing input", lambda f: None, [], 3, "no such file"),
    ("empty input", lambda f: (f / "photo.png").write_bytes(b""), [], 3, "empty"),
    ("not an image", lambda f: (f / "photo.png").write_text("hello"), [], 3, "not an image"),
    ("truncated image", _corrupt_png, [], 3, "truncated"),
    ("missing model", _photo_only, ["--model", "{f}/no-model"], 4,
     "does not exist"),
    ("missing parser", _photo_only, ["--parser-model", "{f}/no-parser"], 4, "no-parser"),
    ("existing output", lambda f: (write_photo(f / "photo.png"), (f / "photo.cured.png").write_bytes(b"old")), [],
     2, "already exists; refusing to overwrite it (--overwrite replaces it)"),
    ("output is a folder", _photo_only, ["-o", "{f}/"], 2, "is a directory; give a file name"),
    ("output is the input", _photo_only, ["-o", "{f}/photo.png", "--overwrite"], 2, "is the input image"),
    ("unknown output type", _photo_only, ["-o", "{f}/photo.tiff"], 2, '".tiff"'),
    ("missing output folder", _photo_only, ["-o", "{f}/nowhere/out.png"], 2, "does not exist"),
    ("over the pixel limit", _photo_only, ["--max-pixels", "1000"], 3, "over the limit"),
    ("intermediates into a file", _photo_only, ["--save-intermediates", "{f}/photo.png"], 2, "is a file"),
    ("bad setting", _photo_only, ["--steps", "0"], 2, "steps must be at least 1"),
    ("bad face selection", _photo_only, ["--faces", "first"], 2, "faces must be"),
    ("checkpoint without refine", _photo_only, ["--sam-checkpoint", "{f}/sam.pth"], 2, "--refine sam"),
    ("missing sam checkpoint", _photo_only, ["--refine", "sam"], 4, "sam_vit_b_01ec64.pth"),
    ("missing face pack", _photo_only, ["--detect", "--face-pack", "buffalo_l", "--face-root", "{f}"], 4, "--no-detect"),
    ("steps past the scheduler's", _photo_only, ["--steps", "100000"], 2, "at most 1000"),
    ("working size past memory", _photo_only, ["--working-size", "99999"], 2, "at most 4096"),
]


@pytest.mark.parametrize("name, prepare, extra, code, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refusal_is_one_line_with_its_code_and_leaves_everything_as_it_was(
    cli_models, tmp_path, monkeypatch, name, prepare, extra, code, message
):
    monkeypatch.chdir(tmp_path)  # no SAM checkpoint in the current folder...
    monkeypatch.setenv("FREECURE_EDIT_HOME", str(tmp_path / "home"))  # ...nor in freecure-edit's own
    prepare(tmp_path)
    before = {path.name: snapshot(path) for path in tmp_path.iterdir()}
    args = [arg.format(f=tmp_path) for arg in extra]

    result = run_cli(["fix", tmp_path / "photo.png", "--prompt", HAIR, *cli_models.args(), *args])

    assert message in assert_one_line_error(result, code)
    assert result.stdout == ""
    assert {path.name: snapshot(path) for path in tmp_path.iterdir()} == before


def test_json_reports_a_failure_on_stdout(tmp_path):
    result = run_cli(["fix", tmp_path / "missing.png", "--prompt", HAIR, "--json"])

    assert_one_line_error(result, 3)
    expected = {"ok": False, "exit_code": 3, "error": f"{tmp_path / 'missing.png'}: no such file"}
    assert json.loads(result.stdout) == expected


def test_debug_adds_the_traceback(tmp_path):
    result = run_cli(["fix", tmp_path / "missing.png", "--prompt", HAIR, "--debug"])

    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"freecure-edit: error: {tmp_path / 'missing.png'}: no such file"


def _raising(error):
    def fail(*args, **kwargs):
        raise error
    return fail


@pytest.mark.parametrize("make_error, code, message", [
    (lambda: RuntimeError("boom"), 1, "unexpected RuntimeError: boom (run again with --debug"),
    (lambda: __import__("torch").cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), 5,
     "ran out of memory (CUDA out of memory. Tried to allocate 2 GiB); try --offload"),
    (lambda: MemoryError(), 5, "ran out of memory"),
    (lambda: IdentityBelowThresholdError("identity 0.2"), 6, "identity 0.2"),
    (lambda: KeyboardInterrupt(), 130, "interrupted"),
], ids=["bug", "cuda-oom", "cpu-oom", "identity", "ctrl-c"])
def test_other_failures_map_to_their_exit_codes(tmp_path, monkeypatch, make_error, code, message):
    photo = write_photo(tmp_path / "photo.png")
    monkeypatch.setattr("freecure_edit.cli.fix.run.apply_presets", _raising(make_error()))

    result = run_cli(["fix", photo, "--prompt", HAIR])

    assert message in assert_one_line_error(result, code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_a_prompt_without_attributes_warns_and_copies_without_loading_a_model(tmp_path):
    photo = write_photo(tmp_path / "photo.png")
    (tmp_path / "photo.cured.png").write_bytes(b"old")

    result = run_cli(["fix", photo, "--prompt", "a portrait of a man", "--device", "cpu", "--overwrite",
                      "--model", tmp_path / "no-model-needed"])

    assert result.exit_code == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("freecure-edit: note: running on the CPU") and "at most --steps 20" in lines[0]
    assert lines[1].startswith("freecure-edit: warning: the prompt 'a portrait of a man' names no facial attribute")
    with PIL.Image.open(tmp_path / "photo.cured.png") as written, PIL.Image.open(photo) as original:
        assert np.array_equal(np.asarray(written), np.asarray(original))
    assert read_parameters(tmp_path / "photo.cured.png")["config"]["draft_steps"] == DRAFT["steps"]


def test_jpeg_quality_sets_the_quality_of_a_jpeg_output(tmp_path):
    photo = write_photo(tmp_path / "photo.png", size=(96, 96))
    sizes = {}
    for quality in (30, 95):
        output = tmp_path / f"q{quality}.jpg"
        result = run_cli(["fix", photo, "--prompt", "a man", "--device", "cpu", "-o", output,
                          "--jpeg-quality", quality])
        assert result.exit_code == 0, result.stderr
        with PIL.Image.open(output) as written:
            assert written.format == "JPEG"
        assert read_parameters(output)["prompt"] == "a man"
        sizes[quality] = output.stat().st_size

    assert sizes[30] < sizes[95]


def test_input_warnings_go_to_stderr_and_keep_exit_code_0(tmp_path):
    frames = [PIL.Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])

    result = run_cli(["fix", tmp_path / "anim.gif", "--prompt", "a man", "--device", "cpu", "--json"])

    assert result.exit_code == 0, result.stderr
    assert "freecure-edit: warning: the image has several frames; only the first is used" in result.stderr
    assert "the image has several frames; only the first is used" in json.loads(result.stdout)["warnings"]


def test_refine_sam_finds_the_checkpoint_and_refines_the_parser(cli_models, tmp_path, monkeypatch):
    from freecure_edit.masks.sam import SamRefiner
    from mask_fixtures import save_tiny_sam

    home = tmp_path / "home"
    home.mkdir()
    checkpoint = save_tiny_sam(home / "sam_vit_b_01ec64.pth", mask_logit=8.0)
    monkeypatch.setenv("FREECURE_EDIT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    refined = []
    original = SamRefiner.refine
    monkeypatch.setattr(SamRefiner, "refine", lambda self, *a, **k: refined.append(1) or original(self, *a, **k))
    photo = write_photo(tmp_path / "photo.png")

    result = run_cli(["fix", photo, "--prompt", HAIR, *cli_models.args(), "--refine", "sam"])

    assert result.exit_code == 0, result.stderr
    assert refined, "SAM refined the hair region of the photo and of the foundation image"
    assert read_parameters(tmp_path / "photo.cured.png")["sam_checkpoint"] == checkpoint.name  # no local path


def test_the_output_names_local_models_without_this_machines_folders(cli_models, tmp_path):
    """A model from a local folder is stored by its name: the full path would name the user's folders to
    whoever gets the photo. A Hub id is stored as it is (tested in output_files' shareable)."""
    from freecure_edit.imageio.output_files import shareable

    photo = write_photo(tmp_path / "photo.png")
    result = run_cli(["fix", photo, "--prompt", HAIR, *cli_models.args()])
    assert result.exit_code == 0, result.stderr
    stored = read_parameters(tmp_path / "photo.cured.png")
    assert stored["model"] == Path(cli_models.sd).name and stored["parser_model"] == Path(cli_models.segformer).name
    assert str(Path(cli_models.sd).parent) not in json.dumps(stored)
    assert shareable("stable-diffusion-v1-5/stable-diffusion-v1-5") == "stable-diffusion-v1-5/stable-diffusion-v1-5"
