"""Helpers for the command-line tests: tiny models on disk, small photos, and running the real CLI.

The CLI runs in-process through click's CliRunner (the same `main` the console script calls, so exit
codes and stderr are the real ones); torch is imported once per session instead of once per run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import random_photo
from freecure_edit.cli.app import cli
from mask_fixtures import save_tiny_segformer

STEPS = 2


@dataclass(frozen=True)
class CliModels:
    sd: Path
    segformer: Path

    def args(self, steps: int = STEPS, detect: bool = False) -> list[str]:
        """The options that point `fix` at the tiny models on the CPU (by default without face detection:
        the photos of most tests have no face)."""
        args = ["--model", str(self.sd), "--parser", "segformer", "--parser-model", str(self.segformer),
                "--device", "cpu", "--steps", str(steps)]
        return args if detect else [*args, "--no-detect"]


@pytest.fixture(scope="session")
def cli_models(tiny_model_folder, tmp_path_factory) -> CliModels:
    # A parser that finds hair everywhere: the cure has a mask to work in, whatever the photo shows.
    segformer = save_tiny_segformer(tmp_path_factory.mktemp("cli-segformer"), hot_label="hair")
    return CliModels(sd=Path(tiny_model_folder("sd", "smooth")), segformer=segformer)


def write_photo(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    random_photo(*size, seed=seed).save(path)
    return path


def run_cli(args: list[str], env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


def snapshot(path: Path) -> tuple[bytes, int]:
    """A file's bytes and modification time, to show it was not touched."""
    return path.read_bytes(), os.stat(path).st_mtime_ns


def assert_one_line_error(result: Result, code: int) -> str:
    """The run exited with `code`, and stderr ends with its one error line (notes, warnings and progress
    may come before it), with no traceback anywhere."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1 and errors[0] == lines[-1], result.stderr
    assert lines[-1].startswith("freecure-edit: error: ")
    assert "Traceback" not in result.output
    return lines[-1]
