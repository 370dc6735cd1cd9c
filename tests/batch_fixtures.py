"""Helpers for the batch tests: folders of tiny photos (some corrupt), reading the manifest, and running
`freecure-edit batch` in-process or as a real subprocess that can be killed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cli_fixtures import CliModels, write_photo

HAIR = "a woman with black curly hair"


def photo_folder(root: Path, names: list[str], corrupt: tuple[str, ...] = ()) -> Path:
    """Photos at `names` (relative, subfolders made as needed), each different; those in `corrupt` cut
    in half, so that the decoder finds them truncated."""
    for seed, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_photo(path, seed=seed)
        if name in corrupt:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
    return root


def batch_args(models: CliModels, input_dir: Path, output_dir: Path, *extra, steps: int = 1) -> list[str]:
    return ["batch", str(input_dir), "-o", str(output_dir), *models.args(steps=steps), *map(str, extra)]


def manifest_lines(output_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (output_dir / "manifest.jsonl").read_text().splitlines()]


def manifest(output_dir: Path) -> dict[str, dict]:
    """The manifest by input, checking that no input has two lines."""
    lines = manifest_lines(output_dir)
    by_input = {line["input"]: line for line in lines}
    assert len(by_input) == len(lines), [line["input"] for line in lines]
    return by_input


def tree(folder: Path) -> set[str]:
    """Every file under `folder`, hidden ones included, relative."""
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def mtimes(folder: Path, names) -> dict[str, int]:
    return {name: os.stat(folder / name).st_mtime_ns for name in names}


def start_batch(args: list[str]) -> subprocess.Popen:
    """`python -m freecure_edit.cli` with `args`, as a user would run it."""
    return subprocess.Popen([sys.executable, "-m", "freecure_edit.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def shard_lines(output_dir: Path) -> list[dict]:
    """The complete lines the running batch's shards hold so far."""
    lines = []
    for shard in sorted((output_dir / ".freecure" / "shards").glob("*.jsonl")):
        for text in shard.read_text().splitlines(keepends=True):
            if text.endswith("\n"):
                lines.append(json.loads(text))
    return lines


def wait_for_shard_lines(process: subprocess.Popen, output_dir: Path, count: int, timeout: float = 300) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if output_dir.joinpath(".freecure", "shards").is_dir():
            lines = shard_lines(output_dir)
            if len(lines) >= count:
                return lines
        if process.poll() is not None:
            raise AssertionError(f"the batch ended first ({process.returncode}): {process.stderr.read()}")
        time.sleep(0.02)
    process.kill()
    raise AssertionError("the batch wrote no manifest line in time")
