"""A batch run from Python, without the command line, on the tiny model: plan it, run it with events,
resume it (what is done is kept, not redone), and stop it with the stop hook between two images,
leaving a manifest that resume finishes."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from batch_fixtures import HAIR, manifest, mtimes, photo_folder, tree
from cli_fixtures import cli_models  # noqa: F401 (a fixture)
from freecure_edit.batch import BatchSettings, BatchStopped, dry_run, run_batch
from freecure_edit.batch.lines import INTERRUPTED

NAMES = ["a.png", "b.png", "c.png"]


def settings_for(models, input_dir, output_dir, **changes) -> BatchSettings:
    return BatchSettings(
        input_dir, output_dir, prompt=HAIR, config={"steps": 1, "detect": False},
        models={"model": str(models.sd), "parser": "segformer", "parser_model": str(models.segformer),
                "device": "cpu"},
        **changes,
    )


def test_a_python_user_plans_runs_and_resumes_a_batch(cli_models, tmp_path):  # noqa: F811
    inputs, output = photo_folder(tmp_path / "in", NAMES), tmp_path / "out"
    settings = settings_for(cli_models, inputs, output)

    plan, listing = dry_run(settings)
    assert [item.output for item in plan.items] == NAMES and listing[-1].startswith("3 inputs; dry run")
    assert not output.exists()  # a plan writes nothing

    events = []
    report = run_batch(settings, on_event=events.append)
    assert (report.exit_code, report.message, report.counts["ok"], report.per_process) == (0, None, 3, [3])
    assert {name: line["status"] for name, line in manifest(output).items()} == dict.fromkeys(NAMES, "ok")
    assert tree(output) == {"manifest.jsonl", *NAMES}
    kinds = [event.kind for event in events]
    assert kinds.index("loading") < kinds.index("curing") < kinds.index("item") and kinds[-1] == "cured"
    assert [event.data["line"]["input"] for event in events if event.kind == "item"] == NAMES
    assert [event.data for event in events if event.kind == "progress"][-1] == {"done": 3, "total": 3}

    written = mtimes(output, NAMES)
    events.clear()
    again = run_batch(dataclasses.replace(settings, resume=True), on_event=events.append)
    assert (again.exit_code, again.kept, again.per_process, again.counts["ok"]) == (0, 3, [0], 3)
    assert mtimes(output, NAMES) == written  # kept, not redone
    assert "loading" not in [event.kind for event in events]  # nothing to cure: no model loaded
    assert any("3 of 3 inputs are done already" in event.data.get("text", "") for event in events)


@pytest.mark.parametrize("hook", ["event", "function"])
def test_the_stop_hook_stops_between_images_and_resume_finishes_the_batch(cli_models, tmp_path, hook):  # noqa: F811
    inputs, output = photo_folder(tmp_path / "in", NAMES), tmp_path / "out"
    settings = settings_for(cli_models, inputs, output)
    recorded = []
    stop_event = threading.Event()

    def on_event(event):
        if event.kind == "item":
            recorded.append(event.data["line"]["input"])
            stop_event.set()  # asked while the first image is being recorded: the batch stops after it

    stop = stop_event if hook == "event" else (lambda: stop_event.is_set())
    with pytest.raises(BatchStopped) as stopped:
        run_batch(settings, on_event=on_event, stop=stop)
    assert stopped.value.exit_code == 130

    lines = manifest(output)
    assert recorded == ["a.png"] and lines["a.png"]["status"] == "ok"
    assert {name: (lines[name]["status"], lines[name]["error"]) for name in ("b.png", "c.png")} == {
        "b.png": ("skipped", INTERRUPTED), "c.png": ("skipped", INTERRUPTED)}
    assert tree(output) == {"manifest.jsonl", "a.png"}  # no working files left behind

    report = run_batch(dataclasses.replace(settings, resume=True))
    assert (report.exit_code, report.kept, report.per_process) == (0, 1, [2])
    assert {name: line["status"] for name, line in manifest(output).items()} == dict.fromkeys(NAMES, "ok")
