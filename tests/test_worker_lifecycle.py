"""How a worker starts and ends, each in a process of its own: a clean exit at the end of its input, and
a start-up that fails saying why in its hello line (so that a plug-in can show it) and exit code."""

from __future__ import annotations

import pytest

from cli_fixtures import STEPS, cli_models  # noqa: F401
from worker_fixtures import STARTUP_SECONDS, WorkerProcess, parse_line


def test_the_end_of_its_input_ends_the_worker_cleanly(cli_models, tmp_path):  # noqa: F811
    worker = WorkerProcess.start(cli_models.args(steps=STEPS), tmp_path)
    hello = worker.next_message(timeout=STARTUP_SECONDS)

    assert hello["type"] == "hello" and hello["status"] == "ok", worker.stderr
    assert worker.close() == 0
    assert [parse_line(line)["type"] for line in worker.lines] == ["hello"]
    assert "Traceback" not in worker.stderr


@pytest.mark.parametrize("extra, code, message", [
    (["--model", "{folder}/no-model"], 4, "no-model"),
    (["--steps", "0"], 2, "steps must be at least 1"),
], ids=["missing model", "bad default"])
def test_a_worker_that_cannot_start_says_why_in_its_hello(cli_models, tmp_path, extra, code, message):  # noqa: F811
    args = [*cli_models.args(steps=STEPS), *[arg.format(folder=tmp_path) for arg in extra]]
    worker = WorkerProcess.start(args, tmp_path)

    hello = worker.next_message(timeout=STARTUP_SECONDS)

    assert (hello["type"], hello["status"], hello["exit_code"]) == ("hello", "error", code), hello
    assert message in hello["error"]
    assert worker.close() == code
    assert worker.stderr.strip().splitlines()[-1] == f"freecure-edit: error: {hello['error']}"
