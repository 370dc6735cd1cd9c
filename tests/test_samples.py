"""The samples: every Python file compiles (the Krita glue imports Krita, so it can only be compiled
here), the plug-in's worker client cures through a real worker on the tiny models and copes with a
worker that misbehaves, and before_after.py writes its strips."""

from __future__ import annotations

import ast
import importlib.util
import json
import py_compile
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from cli_fixtures import STEPS, cli_models, write_photo  # noqa: F401
from worker_fixtures import single_thread_environment, worker_command

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PLUGIN = SAMPLES / "krita" / "freecure_edit_krita"
HAIR = "a woman with black curly hair"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def client():
    return _module(PLUGIN / "worker_client.py", "sample_worker_client")


def test_every_sample_compiles(tmp_path):
    sources = sorted(SAMPLES.rglob("*.py"))
    for source in sources:
        py_compile.compile(str(source), cfile=str(tmp_path / "compiled.pyc"), doraise=True)

    assert {"before_after.py", "__init__.py", "extension.py", "worker_client.py"} <= {path.name for path in sources}


def test_the_worker_client_needs_nothing_the_editors_python_lacks():
    tree = ast.parse((PLUGIN / "worker_client.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert imported <= set(sys.stdlib_module_names), imported


def test_the_plugin_client_cures_through_a_real_worker(client, cli_models, tmp_path):  # noqa: F811
    photo = write_photo(tmp_path / "photo.png", seed=40)
    painted = np.zeros((48, 64), dtype=np.uint8)
    painted[:, 32:] = 255
    PIL.Image.fromarray(painted).save(tmp_path / "selection.png")
    events = []

    with client.WorkerClient(worker_command(cli_models.args(steps=STEPS)), env=single_thread_environment(),
                             log_path=str(tmp_path / "worker.log")) as worker:
        cured = worker.cure({"prompt": HAIR, "input": str(photo), "output": str(tmp_path / "cured.png"),
                             "mask": str(tmp_path / "selection.png")}, on_event=events.append)
        with pytest.raises(client.WorkerError) as refused:
            worker.cure({"prompt": HAIR, "input": str(tmp_path / "missing.png")})
        again = worker.cure({"prompt": HAIR, "input": str(photo), "return_base64": True})

    assert worker.hello["protocol"] == client.PROTOCOL_VERSION
    assert cured["output"] == str(tmp_path / "cured.png") and cured["mask_sources"] == {"hair": "callback"}
    assert events and {(event["type"], event["id"]) for event in events} == {("progress", cured["id"])}
    assert refused.value.exit_code == 3 and "no such file" in str(refused.value)
    assert again["status"] == "ok" and again["id"] != cured["id"] and again["image_base64"]
    assert worker.exit_code == 0
    assert "request 'plugin-1': cured" in (tmp_path / "worker.log").read_text()


# A stand-in worker: a stale reply to an earlier request, then an event and the reply for each request.
FAKE_WORKER = """
import json, sys
print(json.dumps({"type": "hello", "status": "ok", "protocol": PROTOCOL}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    if request.get("type") == "shutdown":
        break
    for message in ({"type": "result", "id": "abandoned", "status": "ok"},
                    {"type": "progress", "id": request["id"], "phase": "fasa", "done": 1, "total": 1},
                    {"type": "result", "id": request["id"], "status": "ok", "echo": request["prompt"]}):
        print(json.dumps(message), flush=True)
"""


def _fake_worker(folder: Path, protocol: int = 1) -> list[str]:
    script = folder / "fake_worker.py"
    script.write_text(FAKE_WORKER.replace("PROTOCOL", str(protocol)))
    return [sys.executable, str(script)]


def _one_shot(folder: Path, *messages: dict, exit_code: int = 0) -> list[str]:
    """A worker that says `messages` whatever it is sent, and ends."""
    script = folder / "one_shot.py"
    script.write_text(f"import sys\nsys.stdout.write({''.join(json.dumps(m) + chr(10) for m in messages)!r})\n"
                      f"sys.stdin.readline()\nsys.exit({exit_code})\n")
    return [sys.executable, str(script)]


def test_the_client_reads_up_to_its_reply_handing_over_events_and_skipping_other_requests(client, tmp_path):
    events = []
    with client.WorkerClient(_fake_worker(tmp_path)) as worker:
        reply = worker.cure({"prompt": "a man with red hair"}, on_event=events.append)

    assert reply["echo"] == "a man with red hair"
    assert [(event["type"], event["id"]) for event in events] == [("progress", reply["id"])]
    assert worker.exit_code == 0


def test_the_client_refuses_a_worker_of_another_protocol_version(client, tmp_path):
    worker = client.WorkerClient(_fake_worker(tmp_path, protocol=2))

    with pytest.raises(client.WorkerError, match="speaks protocol 2 and this plug-in 1"):
        worker.start()
    assert not worker.running


def test_a_worker_that_cannot_start_is_reported_with_its_exit_code(client, tmp_path):
    failed_hello = {"type": "hello", "status": "error", "protocol": 1, "exit_code": 4, "error": "no such model"}
    worker = client.WorkerClient(_one_shot(tmp_path, failed_hello, exit_code=4))

    with pytest.raises(client.WorkerError, match="no such model") as caught:
        worker.start()
    assert caught.value.exit_code == 4


def test_a_worker_that_ends_mid_request_is_reported(client, tmp_path):
    worker = client.WorkerClient(_one_shot(tmp_path, {"type": "hello", "status": "ok", "protocol": 1}, exit_code=9),
                                 log_path=str(tmp_path / "worker.log"))
    worker.start()

    with pytest.raises(client.WorkerError, match=r"ended \(exit code 9\); its log is .*worker.log"):
        worker.cure({"prompt": "a man with red hair"})


def test_before_after_saves_a_strip_per_prompted_photo(cli_models, tmp_path):  # noqa: F811
    landscape = write_photo(tmp_path / "a.png", size=(64, 48), seed=41)
    write_photo(tmp_path / "b.png", size=(48, 64), seed=42)
    rows = [{"file": "a.png", "prompt": HAIR}, {"file": "b.png", "prompt": "a man with blonde hair", "steps": 3},
            {"file": "c.png"}]
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    # Run as a user runs it, in a process of its own.
    run = subprocess.run(
        [sys.executable, str(SAMPLES / "before_after.py"), str(tmp_path / "prompts.jsonl"), "--images", str(tmp_path),
         "--out", str(tmp_path / "strips"), "--model", str(cli_models.sd), "--parser-model", str(cli_models.segformer),
         "--device", "cpu", "--steps", str(STEPS), "--no-detect"],
        capture_output=True, text=True, env=single_thread_environment(), timeout=300,
    )

    assert run.returncode == 0, run.stderr
    assert "a.png: cured black curly hair" in run.stdout and "b.png: cured blonde hair" in run.stdout
    assert "prompts.jsonl line 3: no prompt, skipped" in run.stdout
    with PIL.Image.open(tmp_path / "strips" / "a.strip.png") as strip:
        # before, a preview per step (2), after: four panels of 341 x 256
        assert strip.size == (4 * 341, 256)
        first = np.asarray(strip.crop((0, 0, 341, 256)), dtype=np.int16)
    with PIL.Image.open(landscape) as photo:
        expected = np.asarray(photo.convert("RGB").resize((341, 256), PIL.Image.BICUBIC), dtype=np.int16)
    assert np.array_equal(first, expected)
    with PIL.Image.open(tmp_path / "strips" / "b.strip.png") as strip:
        assert strip.size == (5 * 192, 256)  # before, three previews (the row's 3 steps), after
