"""The offline first run (issue 29 D17): every missing model named in one line, in seconds, with where
to look next; nothing refused that is on disk or can still be downloaded. No network is used: the Hub
is an endpoint on a closed local port, and the cache is a folder made here."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from cli_fixtures import assert_one_line_error, run_cli, write_photo
from freecure_edit.errors import ModelNotFoundError
from freecure_edit.models import presence


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


@pytest.fixture
def unreachable_hub(monkeypatch, tmp_path):
    """No HF_HUB_OFFLINE, an empty cache, and a Hub that refuses connections."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    return tmp_path


def _cache(root: Path, repo_id: str, files: dict[str, str]) -> None:
    """A repository in the Hugging Face cache layout (refs/main -> a snapshot folder)."""
    folder = root / "hf" / "hub" / ("models--" + repo_id.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    for name, text in files.items():
        path = folder / "snapshots" / ("0" * 40) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_fix_names_the_diffusion_model_and_the_parser_at_once_and_points_at_doctor_and_the_toy(unreachable_hub):
    photo = write_photo(unreachable_hub / "photo.png")
    started = time.perf_counter()

    result = run_cli(["fix", photo, "--prompt", "a woman with red hair", "--no-detect", "--device", "cpu"],
                     env={"HF_HUB_OFFLINE": None})

    line = assert_one_line_error(result, 4)
    assert "2 models are missing" in line
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in line and "jonathandinu/face-parsing" in line
    assert "cannot be reached" in line and "freecure-edit doctor" in line and "Try it offline" in line
    # huggingface_hub's own retries take a minute; one probe of a refused port takes milliseconds.
    assert time.perf_counter() - started < 20
    assert not (unreachable_hub / "photo.cured.png").exists()


def test_a_missing_face_pack_is_named_with_the_missing_models(unreachable_hub):
    photo = write_photo(unreachable_hub / "photo.png")

    result = run_cli(["fix", photo, "--prompt", "a woman with red hair", "--face-pack", "buffalo_l", "--face-root",
                      unreachable_hub / "no-packs", "--device", "cpu", "--parser-model", unreachable_hub / "no-parser"],
                     env={"HF_HUB_OFFLINE": None})

    line = assert_one_line_error(result, 4)
    assert "3 models are missing" in line and "buffalo_l" in line and "no-parser does not exist" in line


def test_what_is_cached_is_not_missing_even_when_the_hub_cannot_be_reached(unreachable_hub):
    _cache(unreachable_hub, "someone/sd", {"model_index.json": json.dumps({"_class_name": "StableDiffusionPipeline"})})

    assert presence.missing_sources([("diffusion model", "someone/sd", "model_index.json")]) == []
    missing = presence.missing_sources([("diffusion model", "someone/other", "model_index.json")])
    assert len(missing) == 1 and "someone/other" in missing[0]


def test_nothing_uncached_is_refused_while_the_hub_answers(unreachable_hub):
    sources = [("diffusion model", "someone/sd", "model_index.json"), ("face parser", "someone/parser", "config.json")]

    assert presence.missing_sources(sources, reachable=lambda: True) == []


def test_a_local_path_that_does_not_exist_is_missing_without_asking_the_hub(tmp_path):
    asked = []
    missing = presence.missing_sources([("diffusion model", str(tmp_path / "sd.safetensors"), "model_index.json")],
                                       reachable=lambda: asked.append(1) or True)

    assert missing == [f"diffusion model {tmp_path / 'sd.safetensors'} does not exist"] and asked == []


def test_the_probe_says_unreachable_for_a_refused_port_and_for_hf_hub_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert presence.hub_reachable() is False
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1")
    assert presence.hub_reachable() is False


def test_the_probe_counts_any_http_answer_as_reachable(monkeypatch):
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread

    class NotFound(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        assert presence.hub_reachable() is True
    finally:
        server.shutdown()


def test_one_missing_model_reads_as_one_and_several_are_counted():
    with pytest.raises(ModelNotFoundError, match=r"^a is gone; `freecure-edit doctor`"):
        presence.raise_if_missing(["a is gone"])
    with pytest.raises(ModelNotFoundError, match=r"^2 models are missing: a; b\. "):
        presence.raise_if_missing(["a", "b"])
    presence.raise_if_missing([])


@pytest.mark.parametrize("command", ["batch", "worker"])
def test_batch_and_the_worker_name_everything_missing_before_loading(unreachable_hub, command):
    photos = unreachable_hub / "photos"
    photos.mkdir()
    write_photo(photos / "a.png")
    args = ["batch", photos, "-o", unreachable_hub / "out", "--prompt", "a woman with red hair"] if command == "batch" \
        else ["worker"]

    result = run_cli([*args, "--no-detect", "--device", "cpu"], env={"HF_HUB_OFFLINE": None})

    line = assert_one_line_error(result, 4)
    assert "2 models are missing" in line and "jonathandinu/face-parsing" in line
    assert not (unreachable_hub / "out").exists()


def test_eval_names_the_diffusion_model_and_the_parser_at_once(unreachable_hub):
    photos = unreachable_hub / "photos"
    photos.mkdir()
    write_photo(photos / "a.png")

    result = run_cli(["eval", photos, "-o", unreachable_hub / "eval", "--metrics", "psnr", "--device", "cpu"],
                     env={"HF_HUB_OFFLINE": None})

    line = assert_one_line_error(result, 4)
    assert "2 models are missing" in line and "stable-diffusion-v1-5" in line and "jonathandinu/face-parsing" in line
    assert not (unreachable_hub / "eval").exists()


def test_a_broken_model_file_is_named_with_the_missing_parser(unreachable_hub):
    photo = write_photo(unreachable_hub / "photo.png")
    cut = unreachable_hub / "cut.safetensors"
    cut.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")  # a header that lists more than the file holds

    result = run_cli(["fix", photo, "--prompt", "a woman with red hair", "--no-detect", "--device", "cpu",
                      "--model", cut], env={"HF_HUB_OFFLINE": None})

    line = assert_one_line_error(result, 4)
    assert "2 models are missing" in line and str(cut) in line and "jonathandinu/face-parsing" in line
