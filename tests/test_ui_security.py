"""The web page's server is reachable by every site the user's browser visits: only the page it served
may use it (guard.py). Also its limits: bodies counted as they arrive, names decoded and never paths,
photos kept by memory and never while a cure needs them, and the port taken before any model loads."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time

import PIL.Image
import pytest

from conftest import random_photo
from ui_fixtures import ui_server  # noqa: F401


def png(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo_id(ui_server):  # noqa: F811
    status, uploaded, _ = ui_server.call("/api/photos", raw=png(random_photo(64, 48, seed=3)),
                                         headers={"x-filename": "guarded.png"})
    assert status == 200, uploaded
    return uploaded["id"]


ENDPOINTS = [  # (method, path, JSON body)
    ("POST", "/api/explain", {"prompt": "a woman with red hair"}),
    ("POST", "/api/masks", {"photo": "{photo}", "prompt": "a woman with red hair"}),
    ("POST", "/api/cures", {"photo": "{photo}", "prompt": "a woman with red hair"}),
    ("GET", "/api/cures", None),
    ("POST", "/api/cures/c0/cancel", {}),
    ("GET", "/api/photos/{photo}/image.png", None),
    ("GET", "/api/cures/c0/result.png", None),
    ("GET", "/api/cures/c0/preview.png", None),
]


def _filled(body, photo_id):
    return None if body is None else {key: value.replace("{photo}", photo_id) if isinstance(value, str) else value
                                      for key, value in body.items()}


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_the_token(ui_server, photo_id, method, path, body):  # noqa: F811
    cures_before = len(ui_server.call("/api/cures")[1]["cures"])
    status, answer, _ = ui_server.call(path.replace("{photo}", photo_id), _filled(body, photo_id), token=False)

    assert status == 403 and "token" in answer["error"]
    assert len(ui_server.call("/api/cures")[1]["cures"]) == cures_before


@pytest.mark.parametrize("headers", [
    {"origin": "http://127.0.0.1:8000"},          # another port of the same host is another origin
    {"origin": "https://evil.example"},
    {"origin": "null"},                            # a sandboxed frame or a file:// page
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
])
def test_a_request_from_another_origin_is_refused_even_with_the_token(ui_server, photo_id, headers):  # noqa: F811
    status, answer, _ = ui_server.call("/api/cures", {"photo": photo_id, "prompt": "a woman with red hair"},
                                       headers=headers)
    assert status == 403 and "only the page" in answer["error"]


def test_the_pages_own_origin_is_accepted(ui_server):  # noqa: F811
    status, _, _ = ui_server.call("/api/cures", headers={"origin": ui_server.url, "sec-fetch-site": "same-origin"})
    assert status == 200


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_the_content_types_a_cross_site_form_can_send_are_refused(ui_server, photo_id, kind):  # noqa: F811
    body = f'{{"photo": "{photo_id}", "prompt": "a woman with red hair"}}'.encode()
    status, answer, _ = ui_server.call("/api/cures", raw=body, headers={"content-type": kind})
    assert status == 403 and "content type" in answer["error"]
    status, answer, _ = ui_server.call("/api/photos", raw=png(random_photo(8, 8, 1)), headers={"content-type": kind})
    assert status == 403


def test_images_take_the_token_in_the_query_as_an_img_element_cannot_send_headers(ui_server, photo_id):  # noqa: F811
    path = f"/api/photos/{photo_id}/image.png"
    assert ui_server.call(path, token=False)[0] == 403
    assert ui_server.call(f"{path}?token=wrong", token=False)[0] == 403
    assert ui_server.call(f"{path}?token={ui_server.token}", token=False)[0] == 200


def test_the_page_carries_the_token_and_may_not_be_framed(ui_server):  # noqa: F811
    status, page, headers = ui_server.call("/", token=False)
    assert status == 200 and ui_server.token.encode() in page
    assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["cache-control"] == "no-store"


def test_ids_cannot_be_guessed(ui_server):  # noqa: F811
    ids = [ui_server.call("/api/photos", raw=png(random_photo(8, 8, seed)))[1]["id"] for seed in range(3)]
    assert len(set(ids)) == 3 and all(len(photo) >= 16 for photo in ids)
    assert not any(photo[1:].isdigit() for photo in ids)


def test_a_chunked_upload_is_stopped_at_the_limit_while_it_is_still_arriving(ui_server, monkeypatch):  # noqa: F811
    """No Content-Length: the server must count the bytes and answer 413 at the limit, not read on."""
    from freecure_edit.ui import server as server_module

    monkeypatch.setattr(server_module, "MAX_UPLOAD_BYTES", 64 * 1024)
    host, port = ui_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall((f"POST /api/photos HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\n"
                            f"Content-Type: application/octet-stream\r\nX-FreeCure-Token: {ui_server.token}\r\n\r\n").encode())
        chunk = b"x" * 16 * 1024
        for _ in range(8):  # 128 KiB, twice the limit, and the body is never ended
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        answer = connection.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]


def test_a_name_is_decoded_for_showing_and_downloading_and_never_a_path(ui_server):  # noqa: F811
    from urllib.parse import quote

    status, uploaded, _ = ui_server.call("/api/photos", raw=png(random_photo(16, 16, 2)),
                                         headers={"x-filename": quote("café 照片.png")})
    assert status == 200
    cure = ui_server.call("/api/cures", {"photo": uploaded["id"], "prompt": "a woman with red hair"})[1]["id"]
    listed = ui_server.wait_for(cure)
    assert listed["name"] == "café 照片.png"
    _, _, headers = ui_server.call(f"/api/cures/{cure}/result.png?download=1")
    assert headers["content-disposition"] == (
        "attachment; filename=\"caf_ __.cured.png\"; filename*=UTF-8''caf%C3%A9%20%E7%85%A7%E7%89%87.cured.png")

    for sent, shown in [("../../etc/passwd", "passwd"), (quote("..\\..\\boot.ini"), "boot.ini"),
                        (quote("a\nb\x00.png"), "ab.png"), ("..", "photo"), ("", "photo")]:
        status, answer, _ = ui_server.call("/api/photos", raw=png(random_photo(8, 8, 4)), headers={"x-filename": sent})
        assert status == 200
        assert ui_server.app.state.board.photo(answer["id"]).name == shown


# -- the photos the page keeps ----------------------------------------------------------------------

def _loaded(side: int):
    from freecure_edit.imageio import load_image

    return load_image(random_photo(side, side, side))


def test_photos_that_listed_cures_need_are_never_dropped_and_the_rest_go_least_recently_used_first():
    from freecure_edit.errors import OutOfMemoryError
    from freecure_edit.ui.board import Board

    board = Board(photo_memory=3 * 100 * 100 * 3)  # room for three 100x100 photos
    first, second, third = (board.add_photo(name, _loaded(100), []) for name in ("a", "b", "c"))
    board.add_cure(first, "a woman with red hair")      # "a" is needed by a cure
    board.photo(second.id)                              # "b" was just looked at
    fourth = board.add_photo("d", _loaded(100), [])     # "c", least recently used and not needed, goes
    assert board.photo(third.id) is None
    assert all(board.photo(photo.id) is not None for photo in (first, second, fourth))
    assert board.memory() == {"photos": 3, "used_bytes": 90000, "limit_bytes": 90000}

    for photo in (second, fourth):
        board.add_cure(photo, "a woman with red hair")
    with pytest.raises(OutOfMemoryError, match="--photo-memory"):
        board.add_photo("e", _loaded(100), [])
    assert all(board.photo(photo.id) is not None for photo in (first, second, fourth))


def test_a_photo_larger_than_the_whole_memory_is_refused_with_the_option_to_raise():
    from freecure_edit.errors import InputImageError
    from freecure_edit.ui.board import Board

    with pytest.raises(InputImageError, match="--photo-memory"):
        Board(photo_memory=1000).add_photo("big", _loaded(100), [])


# -- start-up ----------------------------------------------------------------------------------------

def test_a_port_in_use_is_one_line_and_exit_2_before_any_model_loads(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        # A model that does not exist: if it were loaded first, the error would name it instead.
        result = subprocess.run([sys.executable, "-m", "freecure_edit.cli", "ui", "--port", str(port),
                                 "--model", str(tmp_path / "no-model"), "--device", "cpu"],
                                capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert lines[-1].startswith("freecure-edit: error:") and f"127.0.0.1:{port} is in use" in lines[-1]
    assert "no-model" not in result.stderr and "Errno" not in result.stderr
    assert time.monotonic() - started < 60
