"""`batch --num-processes 2` on the CPU: accelerate starts two processes, each cures its share into its
own manifest shard, and the merged manifest has every input exactly once."""

from __future__ import annotations

import re
import subprocess
import sys

from batch_fixtures import HAIR, batch_args, manifest, photo_folder, tree
from cli_fixtures import cli_models  # noqa: F401

NAMES = ["a.png", "b.png", "sub/c.png", "sub/d.png"]


def test_two_processes_share_the_batch_and_every_input_is_done_once(cli_models, tmp_path):
    photos = photo_folder(tmp_path / "in", NAMES)
    output = tmp_path / "out"

    finished = subprocess.run(
        [sys.executable, "-m", "freecure_edit.cli", *batch_args(cli_models, photos, output), "--prompt", HAIR,
         "--recursive", "--num-processes", "2"],
        capture_output=True, text=True, timeout=300,
    )

    assert finished.returncode == 0, finished.stderr
    lines = manifest(output)
    assert set(lines) == set(NAMES) and all(line["status"] == "ok" for line in lines.values())
    # Four lines written in all, two by each process, for four different inputs: each done exactly once.
    assert re.search(r"4 inputs processed in .* by 2 processes \(2 \+ 2\)", finished.stdout), finished.stdout
    assert {name: lines[name]["process"] for name in NAMES} == {"a.png": 0, "b.png": 0, "sub/c.png": 1,
                                                                 "sub/d.png": 1}
    assert tree(output) == set(NAMES) | {"manifest.jsonl"}
    assert "Traceback" not in finished.stderr
