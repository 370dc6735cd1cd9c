"""The web page's JSON API on the tiny model, as the page uses it: upload (and the pixel limit),
explain, the parser's masks over the photo, a cure with a painted mask, its previews, result and
download, cancelling, and bad input answered with the command line's exit codes."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from conftest import random_photo
from metadata_fixtures import Base, private_parts, write_private_jpeg
from freecure_edit.imageio import read_parameters
from cli_fixtures import cli_models  # noqa: F401
from ui_fixtures import STEPS, ui_server  # noqa: F401

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "astronaut-face.jpg"
HAIR = "a woman with black curly hair, laughing"


def png(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def upload(server, data: bytes, name="photo.png"):
    return server.call("/api/photos", raw=data, headers={"x-filename": name})


def image_of(data: bytes) -> PIL.Image.Image:
    with PIL.Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.copy()


def test_the_page_is_served_on_localhost(ui_server):  # noqa: F811
    status, page, headers = ui_server.call("/")

    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'id="drop"' in page and b'id="slider"' in page
    assert ui_server.url.startswith("http://127.0.0.1:")


def test_a_request_for_another_host_name_is_refused(ui_server):  # noqa: F811
    # A web site that rebinds its own name to 127.0.0.1 still sends its name in the Host header.
    status, _, _ = ui_server.call("/api/cures", headers={"host": "attacker.example"})

    assert status == 400


def test_a_cure_with_a_painted_mask_changes_only_the_painted_half(ui_server):  # noqa: F811
    photo = random_photo(64, 48, seed=5)
    status, uploaded, _ = upload(ui_server, png(photo))
    assert status == 200 and (uploaded["width"], uploaded["height"]) == (64, 48), uploaded
    status, shown, _ = ui_server.call(f"/api/photos/{uploaded['id']}/image.png")
    assert status == 200 and np.array_equal(np.asarray(image_of(shown)), np.asarray(photo))

    status, explained, _ = ui_server.call("/api/explain", {"prompt": HAIR})
    assert status == 200
    assert {(a["name"], a["route"]) for a in explained["attributes"]} >= {("hair", "FASA")}
    assert any(a["route"] == "APG" for a in explained["attributes"])

    status, masks, _ = ui_server.call("/api/masks", {"photo": uploaded["id"], "prompt": HAIR})
    assert status == 200 and masks["attributes"] == ["hair"]
    region = np.asarray(image_of(base64.b64decode(masks["mask_png"].split(",", 1)[1])))
    assert region.shape == (48, 64) and region[:18].min() == 255 and region[18:].max() == 0  # the hair band

    painted = np.zeros((48, 64), dtype=np.uint8)
    painted[:, 32:] = 255
    mask_url = "data:image/png;base64," + base64.b64encode(png(PIL.Image.fromarray(painted))).decode()
    status, started, _ = ui_server.call("/api/cures", {"photo": uploaded["id"], "prompt": "a woman with black hair",
                                                       "mask": mask_url, "options": {"paste_feather_px": 0}})
    assert status == 200, started
    cure = ui_server.wait_for(started["id"])
    assert cure["state"] == "done", cure
    assert cure["has_preview"] and cure["attributes"] == ["black hair"]

    status, result, _ = ui_server.call(f"/api/cures/{started['id']}/result.png")
    cured = np.asarray(image_of(result).convert("RGB"), dtype=np.int16)
    changed = np.abs(cured - np.asarray(photo, dtype=np.int16)).max(axis=-1) > 0
    assert not changed[:, :30].any() and changed[:, 32:].any()
    status, download, headers = ui_server.call(f"/api/cures/{started['id']}/result.png?download=1")
    assert download == result
    assert headers["content-disposition"] == "attachment; filename=\"photo.cured.png\"; filename*=UTF-8''photo.cured.png"



def test_the_download_keeps_the_uploads_public_metadata_and_the_settings_not_its_gps_or_serial(ui_server, tmp_path):  # noqa: F811
    data = write_private_jpeg(tmp_path / "phone.jpg", size=(64, 48)).read_bytes()
    status, uploaded, _ = upload(ui_server, data, "phone.jpg")
    assert status == 200, uploaded
    status, started, _ = ui_server.call("/api/cures", {"photo": uploaded["id"], "prompt": "a woman with black hair"})
    assert status == 200 and ui_server.wait_for(started["id"])["state"] == "done"

    status, download, _ = ui_server.call(f"/api/cures/{started['id']}/result.png?download=1")

    assert status == 200
    with PIL.Image.open(io.BytesIO(download)) as written:
        assert private_parts(written) == [] and written.getexif()[Base.Make] == "PhoneCo"
    assert read_parameters(download)["prompt"] == "a woman with black hair"

def test_a_photo_over_the_pixel_limit_is_refused_like_the_command_line_does(ui_server):  # noqa: F811
    status, refused, _ = upload(ui_server, png(random_photo(700, 700)), "big.png")

    assert status == 422 and refused["exit_code"] == 3, refused
    assert "pixels" in refused["error"]


@pytest.mark.parametrize("body, status, code, message", [
    ({"photo": "p999", "prompt": "x"}, 404, 2, "no photo 'p999'"),
    ({"prompt": "x"}, 400, 2, '"photo" is required'),
    ({"photo": None, "prompt": "x", "options": {"steps": 0}}, 400, 2, "steps must be at least 1"),
    ({"photo": None, "prompt": "x", "options": {"stepz": 3}}, 400, 2, "stepz: unknown setting"),
    ({"photo": None, "prompt": "x", "mask": "data:image/png;base64,AAAA"}, 422, 3, "not a PNG"),
])
def test_a_bad_cure_request_is_refused_with_its_exit_code(ui_server, body, status, code, message):  # noqa: F811
    if "photo" in body and body["photo"] is None:
        body = {**body, "photo": upload(ui_server, png(random_photo(32, 32)))[1]["id"]}
    before = len(ui_server.call("/api/cures")[1]["cures"])

    got_status, refused, _ = ui_server.call("/api/cures", body)

    assert (got_status, refused["exit_code"]) == (status, code), refused
    assert message in refused["error"]
    assert len(ui_server.call("/api/cures")[1]["cures"]) == before


def test_a_running_cure_can_be_cancelled_and_leaves_no_result(ui_server):  # noqa: F811
    photo_id = upload(ui_server, png(random_photo(64, 48, seed=6)))[1]["id"]
    long = ui_server.call("/api/cures", {"photo": photo_id, "prompt": HAIR, "options": {"steps": 400}})[1]["id"]
    ui_server.wait_for(long, states=("running",))

    status, answer, _ = ui_server.call(f"/api/cures/{long}/cancel", {})
    cure = ui_server.wait_for(long)

    assert status == 200 and answer["state"] == "running"
    assert cure["state"] == "cancelled" and not cure["has_result"] and cure["done"] < 400
    assert ui_server.call(f"/api/cures/{long}/result.png")[0] == 404


def test_the_command_serves_the_page_on_localhost_and_stops_on_ctrl_c(cli_models, tmp_path):  # noqa: F811
    pytest.importorskip("uvicorn")
    import os
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stderr = tmp_path / "ui.stderr"
    with open(stderr, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "freecure_edit.cli", "ui", *cli_models.args(steps=STEPS),
                                    "--port", str(port)], stdout=subprocess.PIPE, stderr=log,
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline, page = time.monotonic() + 120, None
        while page is None and time.monotonic() < deadline and process.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            except OSError:
                time.sleep(0.3)
        assert page is not None and b"freecure-edit" in page, stderr.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, stderr.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert f"http://127.0.0.1:{port}/" in stderr.read_text()
