"""The Krita plug-in's worker client cancels through a real worker on the tiny models: a cure asked to
stop from the progress dialog ends with exit code 130 and no file, and the same worker cures again."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cli_fixtures import STEPS, cli_models, write_photo  # noqa: F401
from worker_fixtures import single_thread_environment, worker_command

CLIENT = Path(__file__).resolve().parents[1] / "samples" / "krita" / "freecure_edit_krita" / "worker_client.py"


@pytest.fixture(scope="module")
def client():
    spec = importlib.util.spec_from_file_location("sample_worker_client_cancel", CLIENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_cure_cancelled_from_the_dialog_stops_and_the_worker_goes_on(client, cli_models, tmp_path):  # noqa: F811
    photo = write_photo(tmp_path / "photo.png", seed=21)
    events = []
    with client.WorkerClient(worker_command(cli_models.args(steps=STEPS)), env=single_thread_environment(),
                             log_path=str(tmp_path / "worker.log")) as worker:
        with pytest.raises(client.WorkerError) as stopped:
            worker.cure({"prompt": "a woman with black hair", "input": str(photo),
                         "output": str(tmp_path / "cancelled.png"), "options": {"steps": 500}},
                        on_event=events.append, should_cancel=lambda: len(events) >= 2)
        after = worker.cure({"prompt": "a woman with black hair", "input": str(photo),
                             "output": str(tmp_path / "after.png")})

    assert stopped.value.exit_code == client.CANCELLED == 130 and stopped.value.reply["cancelled"] is True
    assert 2 <= len(events) < 500
    assert not (tmp_path / "cancelled.png").exists()
    assert after["status"] == "ok" and (tmp_path / "after.png").exists()
