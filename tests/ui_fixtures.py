"""The web page's server in-process on the tiny model, for the API and browser tests: a real uvicorn
server on a free port of 127.0.0.1, in a thread, with a parser whose hair region is known."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

STEPS = 3
MAX_PIXELS = 600 * 600  # the 512x512 sample passes, a 700x700 photo does not


@dataclass
class Server:
    url: str
    app: object

    @property
    def token(self) -> str:
        return self.app.state.token

    def call(self, path: str, body=None, *, raw: bytes | None = None, headers: dict | None = None,
             token: bool = True):
        """(status, parsed JSON or bytes, headers) of one request, sent as the page sends it: with the
        server's token (unless `token` is False), JSON as application/json, raw bytes as an upload."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        kind = {"content-type": "application/json"} if body is not None else (
            {"content-type": "application/octet-stream"} if raw is not None else {})
        request = urllib.request.Request(self.url + path, data=data, headers={
            **kind, **({"x-freecure-token": self.token} if token else {}), **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, _parsed(response), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, _parsed(error), dict(error.headers)

    def wait_for(self, cure_id: str, states=("done", "failed", "cancelled"), timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cures = {item["id"]: item for item in self.call("/api/cures")[1]["cures"]}
            if cures[cure_id]["state"] in states:
                return cures[cure_id]
            time.sleep(0.1)
        raise AssertionError(f"cure {cure_id} did not reach {states} in {timeout} s: {cures[cure_id]}")


def _parsed(response):
    data = response.read()
    return json.loads(data) if response.headers.get("content-type", "").startswith("application/json") else data


@pytest.fixture(scope="module")
def ui_server(tiny_model_folder):
    pytest.importorskip("starlette", reason="the web page needs the [ui] extra (starlette, uvicorn)")
    uvicorn = pytest.importorskip("uvicorn", reason="the web page needs the [ui] extra (starlette, uvicorn)")
    from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
    from freecure_edit import CureConfig, FreeCure
    from freecure_edit.models.loading import load_pipeline
    from freecure_edit.overrides import read_overrides
    from freecure_edit.ui import build_app

    fc = FreeCure(load_pipeline(tiny_model_folder("sd", "smooth"), device="cpu"), parser=FixedRegionParser(HAIR_ON_TOP))

    def config_for(options):
        return CureConfig(**{"steps": STEPS, "detect": False, **read_overrides(options, "options").config})

    app = build_app(fc, config_for=config_for, max_pixels=MAX_PIXELS, allowed_hosts=["127.0.0.1", "localhost"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the web server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Server(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(30)
