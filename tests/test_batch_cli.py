"""`freecure-edit batch` through the real CLI on tiny models: a folder with a corrupt file in the middle
and nested folders, resuming it, a change of parameters, a prompts file with per-image settings,
--dry-run, and the refusals that happen before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys

import PIL.Image
import pytest

from batch_fixtures import HAIR, batch_args, manifest, mtimes, photo_folder, tree
from cli_fixtures import assert_one_line_error, cli_models, run_cli, snapshot  # noqa: F401
from freecure_edit.imageio import read_parameters

NAMES = ["a.jpg", "a.png", "b.png", "sub/deeper/c.webp"]
GOOD = ["a.jpg", "a.png", "sub/deeper/c.webp"]
OUTPUTS = {"a.jpg": "a.jpg.png", "a.png": "a.png.png", "b.png": "b.png", "sub/deeper/c.webp": "sub/deeper/c.png"}


@pytest.fixture(scope="module")
def corrupt_run(cli_models, tmp_path_factory):
    """A nested folder whose third image is corrupt, cured with --recursive."""
    root = tmp_path_factory.mktemp("batch")
    photos = photo_folder(root / "in", NAMES, corrupt=("b.png",))
    (photos / "notes.txt").write_text("not an image: not selected")
    output = root / "out"
    result = run_cli([*batch_args(cli_models, photos, output), "--prompt", HAIR, "--recursive"])
    return photos, output, result


def test_a_corrupt_file_is_recorded_and_the_batch_goes_on(corrupt_run):
    photos, output, result = corrupt_run

    assert_one_line_error(result, 3)
    assert "1 of 4 inputs failed" in result.stderr
    lines = manifest(output)
    assert {name: line["status"] for name, line in lines.items()} == {
        **dict.fromkeys(GOOD, "ok"), "b.png": "failed"}
    assert "truncated" in lines["b.png"]["error"] and lines["b.png"]["exit_code"] == 3
    assert "failed: b.png:" in result.stdout and "batch summary" in result.stdout


def test_the_layout_is_kept_and_only_outputs_and_the_manifest_are_written(corrupt_run):
    photos, output, _ = corrupt_run

    lines = manifest(output)
    assert {name: line["output"] for name, line in lines.items()} == OUTPUTS
    assert tree(output) == {OUTPUTS[name] for name in GOOD} | {"manifest.jsonl"}
    assert lines["a.jpg"]["renamed_from"] == lines["a.png"]["renamed_from"] == "a.png"
    assert lines["sub/deeper/c.webp"]["renamed_from"] is None
    with PIL.Image.open(output / "sub/deeper/c.png") as cured:
        assert cured.format == "PNG" and cured.size == (64, 48)
    assert read_parameters(output / "a.png.png")["prompt"] == HAIR


def test_each_line_holds_the_parameters_and_their_hash(corrupt_run):
    _, output, _ = corrupt_run

    line = manifest(output)["sub/deeper/c.webp"]
    assert line["parameters"]["config"]["steps"] == 1 and line["parameters"]["prompt"] == HAIR
    assert line["parameters"]["models"]["dtype"] == "float32"
    assert len(line["parameters_hash"]) == 16 and line["seconds"] > 0 and line["identity_similarity"] is None
    assert line["attributes"] == ["black curly hair"] and line["process"] == 0
    assert len({line["parameters_hash"] for line in manifest(output).values()}) == 1


def test_resume_retries_only_what_failed_then_a_change_of_parameters_redoes_everything(cli_models, corrupt_run):
    photos, output, _ = corrupt_run
    before = manifest(output)
    written = mtimes(output, [OUTPUTS[name] for name in GOOD])

    again = run_cli([*batch_args(cli_models, photos, output), "--prompt", HAIR, "--recursive", "--resume"])

    assert_one_line_error(again, 3)
    assert "3 of 4 inputs are done already and kept" in again.stderr
    after = manifest(output)
    assert {name: after[name] for name in GOOD} == {name: before[name] for name in GOOD}
    assert after["b.png"]["finished_at"] > before["b.png"]["finished_at"]
    assert mtimes(output, written) == written

    changed = run_cli([*batch_args(cli_models, photos, output, steps=2), "--prompt", HAIR, "--recursive", "--resume"])

    assert_one_line_error(changed, 3)
    redone = manifest(output)
    assert all(redone[name]["status"] == "ok" and redone[name]["parameters"]["config"]["steps"] == 2 for name in GOOD)
    assert all(redone[name]["parameters_hash"] != before[name]["parameters_hash"] for name in GOOD)
    assert all(mtimes(output, [name])[name] != written[name] for name in written)
    assert tree(output) == {OUTPUTS[name] for name in GOOD} | {"manifest.jsonl"}


def test_a_prompts_file_gives_each_image_its_prompt_and_settings(cli_models, tmp_path):
    photos = photo_folder(tmp_path / "in", ["alice.png", "bob.png", "carol.png", "dave.png"])
    rows = [
        {"file": "alice.png", "prompt": "a woman wearing sunglasses", "steps": 2, "output": "special/alice.jpg",
         "jpeg_quality": 80},
        {"file": "bob.png", "prompt": "a portrait of a man"},
        {"file": "carol.png", "--paste-feather-px": 2, "fd-corrections": False},
    ]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    output = tmp_path / "out"

    result = run_cli([*batch_args(cli_models, photos, output), "--prompts", prompts, "--prompt", HAIR])

    assert result.exit_code == 0, result.stderr
    lines = manifest(output)
    assert set(lines) == {"alice.png", "bob.png", "carol.png", "dave.png"}
    assert all(line["status"] == "ok" for line in lines.values())
    alice, bob, carol, dave = (lines[name] for name in ("alice.png", "bob.png", "carol.png", "dave.png"))
    assert alice["output"] == "special/alice.jpg" and alice["parameters"]["config"]["steps"] == 2
    assert dave["parameters"]["config"]["steps"] == 1
    assert alice["parameters"]["output"] == {"format": "JPEG", "quality": 80}
    with PIL.Image.open(output / "special/alice.jpg") as written:
        assert written.format == "JPEG"
    assert bob["attributes"] == [] and "names no facial attribute" in bob["warnings"][0]
    assert carol["prompt"] == dave["prompt"] == HAIR
    assert carol["parameters"]["config"]["paste_feather_px"] == 2.0
    assert carol["parameters"]["config"]["fd_corrections"] is False
    assert dave["parameters"]["config"]["paste_feather_px"] is None  # by the pasted region's size
    assert len({line["parameters_hash"] for line in lines.values()}) == 4


def test_a_dry_run_lists_the_plan_and_loads_and_writes_nothing(tmp_path):
    photos = photo_folder(tmp_path / "in", ["x.png", "x.jpg", "sub/y.png"])
    (tmp_path / "prompts.jsonl").write_text(json.dumps({"file": "x.jpg", "prompt": "a man", "steps": 5}) + "\n")
    before = tree(tmp_path)

    result = run_cli(["batch", photos, "-o", tmp_path / "out", "--prompt", HAIR, "--prompts",
                      tmp_path / "prompts.jsonl", "--recursive", "--dry-run", "--model", tmp_path / "no-model"])

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "sub/y.png -> sub/y.png: black curly hair",
        "x.jpg -> x.jpg.png: no attribute: copied unchanged; its row sets steps; renamed: several inputs would "
        "make x.png",
        "x.png -> x.png.png: black curly hair; renamed: several inputs would make x.png",
        "3 inputs; dry run: no model loaded, nothing written",
    ]
    assert tree(tmp_path) == before and not (tmp_path / "out").exists()


def test_help_and_a_dry_run_import_no_heavy_library(tmp_path):
    photo_folder(tmp_path / "in", ["x.png"])
    script = (
        "import sys\nfrom freecure_edit.cli.app import cli\n"
        f"for args in (['batch', '--help'], ['batch', {str(tmp_path / 'in')!r}, '-o', {str(tmp_path / 'out')!r}, "
        f"'--prompt', 'a man with red hair', '--dry-run']):\n"
        "    try:\n        cli(args)\n    except SystemExit as exit:\n        assert exit.code == 0, exit.code\n"
        "print(sorted(name for name in ('torch', 'diffusers', 'accelerate') if name in sys.modules))\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "[]"


def _earlier_batch(folder):
    (folder / "out").mkdir()
    (folder / "out" / "manifest.jsonl").write_text("")


# (name, how to prepare the folder, the arguments after INPUT_DIR, exit code, part of the message)
REFUSALS = [
    ("no prompt", None, ["-o", "{f}/out"], 2, "give --prompt TEXT"),
    ("missing input folder", None, ["{f}/nowhere", "-o", "{f}/out", "--prompt", HAIR], 3, "no such folder"),
    ("no image", lambda f: (f / "empty").mkdir(), ["{f}/empty", "-o", "{f}/out", "--prompt", HAIR], 3,
     "no image to cure; --recursive"),
    ("output is the input", None, ["-o", "{f}/in", "--prompt", HAIR], 2, "must not be the input folder"),
    ("earlier batch", _earlier_batch, ["-o", "{f}/out", "--prompt", HAIR], 2, "pass --resume"),
    ("existing output", lambda f: photo_folder(f / "out", ["x.png"]), ["-o", "{f}/out", "--prompt", HAIR], 2,
     "already exists; pass --overwrite"),
    ("unknown setting", lambda f: (f / "p.csv").write_text("file,prompt,colour\nx.png,a man,red\n"),
     ["-o", "{f}/out", "--prompts", "{f}/p.csv"], 2, "p.csv line 2: colour: unknown setting"),
    ("bad setting", lambda f: (f / "p.jsonl").write_text('{"file": "x.png", "steps": 0}\n'),
     ["-o", "{f}/out", "--prompts", "{f}/p.jsonl", "--prompt", HAIR], 2, "p.jsonl line 1: steps must be at least 1"),
    ("row for a missing file", lambda f: (f / "p.csv").write_text("file,prompt\ny.png,a man\n"),
     ["-o", "{f}/out", "--prompts", "{f}/p.csv"], 2, "p.csv line 2: "),
    ("two outputs alike", lambda f: (f / "p.jsonl").write_text(
        '{"file": "x.png", "output": "same.png"}\n{"file": "y.png", "output": "SAME.png"}\n'),
     ["-o", "{f}/out", "--prompts", "{f}/p.jsonl", "--prompt", HAIR], 2, "the same output"),
]


@pytest.mark.parametrize("name, prepare, arguments, code, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refusal_comes_before_anything_is_written(tmp_path, name, prepare, arguments, code, message):
    photo_folder(tmp_path / "in", ["x.png"] if name != "two outputs alike" else ["x.png", "y.png"])
    if prepare is not None:
        prepare(tmp_path)
    before = {path: snapshot(tmp_path / path) for path in tree(tmp_path)}
    arguments = [argument.format(f=tmp_path) for argument in arguments]
    if not arguments[0].startswith(str(tmp_path)):
        arguments.insert(0, str(tmp_path / "in"))

    result = run_cli(["batch", *arguments, "--device", "cpu", "--model", tmp_path / "no-model"])

    assert message in assert_one_line_error(result, code)
    assert {path: snapshot(tmp_path / path) for path in tree(tmp_path)} == before
    assert (tmp_path / "out").exists() == (name in ("earlier batch", "existing output"))
