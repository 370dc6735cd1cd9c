"""`freecure-edit doctor` works with nothing cached and without the network, and sees what is cached."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import huggingface_hub.constants  # noqa: F401
import pytest

from cli_fixtures import run_cli
from freecure_edit.cli.model_options import DEFAULT_MODEL, DEFAULT_SEGFORMER_MODEL


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Every cache the doctor reads points into an empty folder, and any connection attempt fails.

    huggingface_hub is imported above, before HF_HOME moves: it fixes its cache folder at import, and
    the tests that run later in this process must keep the real one, not this temporary fake.
    """
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path / "insightface"))
    monkeypatch.setenv("FREECURE_EDIT_HOME", str(tmp_path / "freecure"))
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("doctor tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return tmp_path


def doctor_json() -> dict:
    result = run_cli(["doctor", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cache_file(root, repo_id: str, name: str) -> None:
    """A file as huggingface_hub lays out its cache: a snapshot of a revision that refs/main names."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text("0" * 40)
    target = repo / "snapshots" / ("0" * 40) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"{}")
    (repo / "blobs").mkdir(exist_ok=True)


def test_with_nothing_cached_every_model_is_missing_and_fix_would_download_two(empty_caches):
    report = doctor_json()

    assert {model["status"] for model in report["models"] if model["name"] != "dlib face pack"} == {"missing"}
    assert report["fix_would_download"] == [DEFAULT_MODEL, DEFAULT_SEGFORMER_MODEL]
    # The dlib face pack comes with the test extras, so no insightface pack is needed by hand.
    assert report["fix_needs_by_hand"] == []
    assert report["face_pack_for_fix"] == {"pack": "dlib", "why": "no insightface pack 'buffalo_l' on disk"}
    assert report["caches"]["huggingface"] == str(empty_caches / "hf" / "hub")
    licences = dict(report["licences"])
    assert "non-commercial" in licences["insightface packs (buffalo_l, antelopev2)"]
    assert licences["SAM checkpoints"] == "Apache-2.0"
    assert report["system"]["torch"]["default_device"] in ("cpu", "cuda", "mps")


@pytest.mark.parametrize("offline", [False, True])
def test_the_text_report_says_what_to_download(empty_caches, monkeypatch, offline):
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    result = run_cli(["doctor"])

    assert result.exit_code == 0
    needed = f"{DEFAULT_MODEL}, {DEFAULT_SEGFORMER_MODEL}"
    expected = f"needs {needed}, and HF_HUB_OFFLINE is set" if offline else f"would download: {needed}"
    assert expected in result.stdout
    assert "to get it: hf download jonathandinu/face-parsing" in result.stdout
    assert "licences:" in result.stdout


def test_cached_models_are_found_where_the_cli_looks(empty_caches):
    hub = empty_caches / "hf" / "hub"
    cache_file(hub, DEFAULT_SEGFORMER_MODEL, "config.json")
    cache_file(hub, DEFAULT_SEGFORMER_MODEL, "model.safetensors")
    cache_file(hub, DEFAULT_MODEL, "model_index.json")
    (empty_caches / "freecure").mkdir()
    (empty_caches / "freecure" / "sam_vit_b_01ec64.pth").write_bytes(b"weights")
    pack = empty_caches / "insightface" / "models" / "buffalo_l"
    pack.mkdir(parents=True)
    (pack / "det_10g.onnx").write_bytes(b"onnx")

    models = {model["source"]: model for model in doctor_json()["models"]}

    assert models[DEFAULT_SEGFORMER_MODEL]["status"] == "cached"
    partial = models[DEFAULT_MODEL]
    assert partial["status"] == "partial" and "unet/diffusion_pytorch_model.safetensors" in partial["missing_files"]
    sam = next(model for model in models.values() if model["name"].startswith("SAM"))
    assert sam["status"] == "cached" and sam["location"].endswith("sam_vit_b_01ec64.pth")
    insightface = next(model for model in models.values() if model["name"].startswith("insightface"))
    assert insightface["status"] == "cached" and insightface["location"] == str(pack)


def test_without_the_dlib_pack_fix_needs_the_insightface_pack_by_hand(empty_caches, monkeypatch):
    monkeypatch.setattr("freecure_edit.faces.dlib_pack.missing_parts", lambda pack, root=None: ["the dlib module"])
    report = doctor_json()

    assert report["fix_needs_by_hand"] == ["insightface buffalo_l"]
    assert report["face_pack_for_fix"]["pack"] is None and "freecure-edit[dlib]" in report["face_pack_for_fix"]["why"]
    dlib = next(model for model in report["models"] if model["name"] == "dlib face pack")
    assert dlib["status"] != "cached" and "freecure-edit[dlib]" in dlib["how_to_get"]


def test_each_face_pack_is_listed_with_its_files_and_licence(empty_caches):
    report = doctor_json()

    models = {model["name"]: model for model in report["models"]}
    assert models["dlib face pack"]["status"] == "cached"
    assert Path(models["dlib face pack"]["location"], "dlib_face_recognition_resnet_model_v1.dat").is_file()
    assert "CC0" in models["dlib face pack"]["licence"] and "non-commercial" in models["insightface buffalo_l"]["licence"]
    assert any("dlib" in what for what, _ in report["licences"])
    assert any(package["name"] == "dlib-bin" and package["version"] for package in report["system"]["packages"])
