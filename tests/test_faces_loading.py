"""Finding and loading insightface packs: real routing, our paths, and no download ever."""

from __future__ import annotations

import shutil
import socket

import pytest
from face_fixtures import ASTRONAUT_FACE, build_recognizer, face_packs, load_analyzer, write_pack  # noqa: F401

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.faces import load_face_analyzer, locate_pack


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach the network fails the test, and is recorded."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_insightface_routes_the_pack_to_its_own_detector_and_recogniser(face_packs, load_analyzer):
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX
    from insightface.model_zoo.scrfd import SCRFD

    analyzer = load_analyzer(face_packs.two_faces)
    assert isinstance(analyzer._detector, SCRFD)
    assert isinstance(analyzer._recognizer, ArcFaceONNX)
    assert analyzer.has_recognition
    assert analyzer.folder == face_packs.two_faces


def test_a_pack_without_recogniser_loads_for_detection_only(face_packs, load_analyzer):
    assert not load_analyzer(face_packs.rolled).has_recognition


def test_root_may_be_the_pack_folder_its_parent_or_an_insightface_root(face_packs):
    pack = face_packs.two_faces
    assert locate_pack("buffalo_l", pack) == pack
    assert locate_pack("buffalo_l", pack.parent) == pack
    assert locate_pack("buffalo_l", face_packs.root) == pack


def test_default_root_is_insightface_home_or_the_home_folder(face_packs, monkeypatch, tmp_path):
    monkeypatch.setenv("INSIGHTFACE_HOME", str(face_packs.root))
    assert locate_pack("buffalo_l") == face_packs.two_faces
    monkeypatch.delenv("INSIGHTFACE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(face_packs.two_faces, tmp_path / ".insightface" / "models" / "buffalo_l")
    assert locate_pack("buffalo_l") == tmp_path / ".insightface" / "models" / "buffalo_l"


def test_antelopev2_unzipped_into_a_nested_folder_is_found(face_packs, tmp_path, no_network):
    nested = tmp_path / "models" / "antelopev2" / "antelopev2"
    shutil.copytree(face_packs.two_faces, nested)
    analyzer = load_face_analyzer("antelopev2", root=tmp_path, providers=["CPUExecutionProvider"])
    assert analyzer.folder == nested
    assert analyzer.pack == "antelopev2"
    assert not no_network


@pytest.mark.parametrize("pack", ["buffalo_l", "antelopev2"])
def test_a_missing_pack_is_one_line_naming_pack_folder_and_download(pack, tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as caught:
        load_face_analyzer(pack)
    message = str(caught.value)
    assert "\n" not in message
    assert f"'{pack}'" in message
    assert str(tmp_path / "models" / pack) in message
    assert f"{pack}.zip" in message
    assert not no_network
    assert not (tmp_path / "models" / pack).exists(), "nothing may be created where a download would go"


def test_a_missing_pack_under_a_given_root_names_that_root(tmp_path, no_network):
    with pytest.raises(ModelNotFoundError) as caught:
        load_face_analyzer("buffalo_l", root=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_pack_without_detector_is_reported_not_crashed(tmp_path, no_network):
    build_recognizer(tmp_path / "buffalo_l" / "w600k_r50.onnx")
    with pytest.raises(ModelNotFoundError, match="no face detector.*det_10g.onnx"):
        load_face_analyzer("buffalo_l", root=tmp_path, providers=["CPUExecutionProvider"])


def test_a_damaged_model_file_is_reported_as_such(tmp_path, no_network):
    folder = write_pack(tmp_path / "buffalo_l", [ASTRONAUT_FACE])
    data = (folder / "det_10g.onnx").read_bytes()
    (folder / "det_10g.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelNotFoundError, match="could not be loaded") as caught:
        load_face_analyzer("buffalo_l", root=tmp_path, providers=["CPUExecutionProvider"])
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["../buffalo_l", "models/buffalo_l", "..", ""])
def test_a_pack_name_that_is_a_path_is_refused(tmp_path, name):
    with pytest.raises(ConfigurationError, match="not a folder name"):
        locate_pack(name, tmp_path)
