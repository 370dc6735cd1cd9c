"""Help, usage errors and `explain` answer without importing torch or diffusers (checked in a fresh
interpreter), and usage errors are one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_fixtures import assert_one_line_error, run_cli, write_photo

HEAVY_MODULES = ("torch", "diffusers", "transformers", "onnxruntime", "insightface")
LIGHT_RUNS = [
    ["--help"],
    ["fix", "--help"],
    ["explain", "--help"],
    ["faces", "--help"],
    ["doctor", "--help"],
    ["fix", "photo.png", "--prompt", "a man with red hair", "--no-such-option"],
    ["fix", "photo.png", "--prompt", "a man with red hair", "--method", "no-such-method"],
    ["fix"],
    ["explain", "--prompt", "a woman with black curly hair, laughing happily"],
]
SCRIPT = f"""
import json, sys
from freecure_edit.cli.app import cli
codes = []
for args in {LIGHT_RUNS!r}:
    try:
        cli(args, prog_name="freecure-edit")
    except SystemExit as exit:
        codes.append(exit.code)
heavy = sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules)
print(json.dumps({{"codes": codes, "heavy": heavy}}))
"""


def test_help_usage_errors_and_explain_import_no_heavy_library():
    finished = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["codes"] == [0, 0, 0, 0, 0, 2, 2, 2, 0]


def test_the_module_runs_as_the_console_script_does():
    finished = subprocess.run([sys.executable, "-m", "freecure_edit.cli", "--version"], capture_output=True,
                              text=True, timeout=60)
    assert finished.returncode == 0
    assert finished.stdout.startswith("freecure-edit, version ")


@pytest.mark.parametrize("args, expected", [
    (["--no-such-option"], "No such option"),
    (["--steps", "many"], "'many' is not a valid integer"),
    (["--refine", "magic"], "'magic' is not one of"),
    (["--jpeg-quality", "0"], "--jpeg-quality"),
])
def test_a_bad_option_is_one_line_and_exit_code_2(tmp_path, args, expected):
    photo = write_photo(tmp_path / "photo.png")

    result = run_cli(["fix", photo, "--prompt", "a man with red hair", *args])

    line = assert_one_line_error(result, 2)
    assert expected in line
    assert "freecure-edit fix --help" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_an_unknown_command_is_a_usage_error():
    line = assert_one_line_error(run_cli(["cure-everything"]), 2)
    assert "No such command" in line
