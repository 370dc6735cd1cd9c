"""A batch killed mid-way loses at most the image in flight, and --resume then does exactly the inputs
without an ok line; Ctrl-C and SIGTERM stop it cleanly. The batch runs as a real subprocess."""

from __future__ import annotations

import os
import signal

import pytest

from batch_fixtures import (
    HAIR, batch_args, manifest, mtimes, photo_folder, shard_lines, start_batch, tree, wait_for_shard_lines,
)
from cli_fixtures import cli_models, run_cli  # noqa: F401
from freecure_edit.batch.lines import ABANDONED

NAMES = [f"p{index}.png" for index in range(4)]


def test_resume_after_sigkill_redoes_exactly_what_had_no_ok_line(cli_models, tmp_path):
    photos = photo_folder(tmp_path / "in", NAMES)
    output = tmp_path / "out"
    args = [*batch_args(cli_models, photos, output), "--prompt", HAIR]
    process = start_batch(args)
    wait_for_shard_lines(process, output, 1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {line["input"]: line for line in shard_lines(output)}
    assert 0 < len(done_before) < len(NAMES), "killed mid-batch"
    kept = mtimes(output, [line["output"] for line in done_before.values()])

    resumed = run_cli([*args, "--resume"])

    assert resumed.exit_code == 0, resumed.stderr
    lines = manifest(output)
    assert set(lines) == set(NAMES) and all(line["status"] == "ok" for line in lines.values())
    assert {name: lines[name] for name in done_before} == done_before, "the lines before the kill are kept"
    assert mtimes(output, kept) == kept, "and their images were not made again"
    assert tree(output) == set(NAMES) | {"manifest.jsonl"}, "each output once, no working file left"
    assert f"{len(done_before)} of {len(NAMES)} inputs are done already" in resumed.stderr


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_flushes_the_manifest_and_removes_working_files(cli_models, tmp_path, number):
    photos = photo_folder(tmp_path / "in", NAMES)
    output = tmp_path / "out"
    process = start_batch([*batch_args(cli_models, photos, output), "--prompt", HAIR])
    seen = len(wait_for_shard_lines(process, output, 1))

    process.send_signal(number)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "freecure-edit: error: interrupted"
    lines = manifest(output)
    assert set(lines) == set(NAMES), "every input has its line"
    cured = {name for name, line in lines.items() if line["status"] == "ok"}
    assert all(line["status"] == "skipped" for name, line in lines.items() if name not in cured)
    abandoned = [name for name, line in lines.items() if line["error"] == ABANDONED]
    if number == signal.SIGINT:
        assert "stopping after the image in progress" in stderr
        # Whether an image was in progress is not for the test to guess: a line is visible before the
        # batch has fsync'ed it and looked for a stop, and a signal then finds no image in flight.
        # Whichever image was in flight, if any, was finished rather than abandoned.
        assert abandoned == [], "the image in progress was finished"
    else:
        assert len(abandoned) <= 1
    assert len(cured) >= seen
    assert tree(output) == cured | {"manifest.jsonl"}, "outputs of the cured only, and no working file"
