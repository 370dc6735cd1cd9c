"""The web page's server: one hand-written page and a small JSON API over a CureService.

    app = build_app(fc)                        # a Starlette (ASGI) application
    uvicorn.run(app, host="127.0.0.1", port=7860)

Photos come as the raw bytes of a file and are refused over the pixel limit, as by the command line;
cures are queued on the service and run one at a time; the page polls their state.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import io
import logging
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import PIL.Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError, FreeCureError, InputImageError
from freecure_edit.explain import explain_prompt as library_explain
from freecure_edit.imageio import load_image
from freecure_edit.imageio import DEFAULT_MAX_PIXELS
from freecure_edit.overrides import read_overrides
from freecure_edit.service import CureJob, CureService, run_cure_job
from freecure_edit.service.inspect import photo_faces, prompt_regions
from freecure_edit.ui.board import Board, failure_text, png_bytes

logger = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
STATUS_OF_EXIT_CODE = {2: 400, 3: 422, 4: 500, 5: 507, 6: 422}
ConfigFor = Callable[[dict[str, Any]], CureConfig]


def default_config_for(options: dict[str, Any]) -> CureConfig:
    """A request's settings on the library's defaults (the command passes its own, with its options)."""
    return CureConfig(**read_overrides(options, "options").config)


def build_app(freecure, *, config_for: ConfigFor = default_config_for, max_pixels: int | None = DEFAULT_MAX_PIXELS,
              title: str = "freecure-edit", allowed_hosts: list[str] | None = None) -> Starlette:
    """`allowed_hosts`: the Host headers answered (None: any). A server on localhost should allow only
    its own names, so that a web site cannot reach it through DNS rebinding."""
    board = Board()
    service = CureService(freecure, board.on_event)
    page = resources.files("freecure_edit.ui").joinpath("page.html").read_text(encoding="utf-8")

    async def index(request: Request) -> Response:
        return HTMLResponse(page.replace("{{title}}", title))

    async def upload(request: Request) -> Response:
        data = await _body(request)
        name = Path(request.headers.get("x-filename", "photo")).name or "photo"
        loaded = await run_in_threadpool(load_image, data, max_pixels)
        faces = await run_in_threadpool(photo_faces, freecure, loaded.rgb)
        photo = board.add_photo(name, loaded, faces)
        return JSONResponse({"id": photo.id, "name": name, "width": loaded.size[0], "height": loaded.size[1],
                             "faces": faces, "warnings": loaded.warnings})

    async def photo_image(request: Request) -> Response:
        photo = _photo(board, request.path_params["photo"])
        return Response(await run_in_threadpool(png_bytes, photo.loaded.rgb), media_type="image/png")

    async def explain(request: Request) -> Response:
        body = await _json(request)
        return JSONResponse(explain_prompt(_text(body, "prompt", required=False) or ""))

    async def masks(request: Request) -> Response:
        body = await _json(request)
        photo = _photo(board, _text(body, "photo"))
        regions = await run_in_threadpool(prompt_regions, freecure, photo.loaded.rgb, _text(body, "prompt"))
        union = (np.clip(regions["union"], 0, 1) * 255).round().astype(np.uint8)
        png = png_bytes(PIL.Image.fromarray(union, "L"))
        return JSONResponse({"mask_png": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
                             "attributes": [name for name in regions if name != "union"]})

    async def start_cure(request: Request) -> Response:
        body = await _json(request)
        photo = _photo(board, _text(body, "photo"))
        prompt = _text(body, "prompt")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ConfigurationError('"options" must be an object')
        config = config_for(options)
        mask = _painted_mask(body.get("mask"), photo.loaded.size)
        cure = board.add_cure(photo, prompt)
        job = CureJob(prompt, photo.loaded, config, mask=mask, max_pixels=max_pixels, previews=True)
        service.submit(cure.id, lambda context: run_cure_job(freecure, job, context))
        return JSONResponse({"id": cure.id})

    async def list_cures(request: Request) -> Response:
        return JSONResponse({"cures": board.cures(), "queue": service.snapshot()})

    async def cancel(request: Request) -> Response:
        cure = _cure(board, request.path_params["cure"])
        return JSONResponse({"id": cure.id, "state": service.cancel(cure.id)})

    async def preview(request: Request) -> Response:
        cure = _cure(board, request.path_params["cure"])
        if cure.preview_png is None:
            return _error(404, "no preview yet")
        return Response(cure.preview_png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def result(request: Request) -> Response:
        cure = _cure(board, request.path_params["cure"])
        if cure.result_png is None:
            return _error(404, f"cure {cure.id} has no result ({cure.state})")
        headers = {"Cache-Control": "no-store"}
        if request.query_params.get("download"):
            headers["Content-Disposition"] = f'attachment; filename="{Path(cure.photo_name).stem}.cured.png"'
        return Response(cure.result_png, media_type="image/png", headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        service.cancel_all()
        await run_in_threadpool(service.close, cancel_queued=True, timeout=30)

    routes = [
        Route("/", _answered(index)),
        Route("/api/photos", _answered(upload), methods=["POST"]),
        Route("/api/photos/{photo}/image.png", _answered(photo_image)),
        Route("/api/explain", _answered(explain), methods=["POST"]),
        Route("/api/masks", _answered(masks), methods=["POST"]),
        Route("/api/cures", _answered(start_cure), methods=["POST"]),
        Route("/api/cures", _answered(list_cures)),
        Route("/api/cures/{cure}/cancel", _answered(cancel), methods=["POST"]),
        Route("/api/cures/{cure}/preview.png", _answered(preview)),
        Route("/api/cures/{cure}/result.png", _answered(result)),
    ]
    middleware = [] if allowed_hosts is None else [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.service = service
    app.state.board = board
    return app


def explain_prompt(prompt: str) -> dict[str, Any]:
    """What the cure will do with `prompt`, as `freecure-edit explain --json` says it."""
    if not prompt.strip():
        return {"prompt": prompt, "template": None, "attributes": []}
    return library_explain(prompt)


def _painted_mask(value: Any, size: tuple[int, int]) -> np.ndarray | None:
    """A mask painted on the page (a PNG data URL at the photo's size) as (H, W) floats in [0, 1]."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError('"mask" must be a PNG data URL')
    try:
        data = base64.b64decode(value.split(",", 1)[-1], validate=True)
        with PIL.Image.open(io.BytesIO(data)) as image:
            alpha = image.getchannel("A") if "A" in image.getbands() else None
            brightness = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
            if alpha is not None:
                brightness *= np.asarray(alpha, dtype=np.float32) / 255.0
    except (binascii.Error, ValueError, OSError):
        raise InputImageError("the painted mask is not a PNG image") from None
    if brightness.shape != (size[1], size[0]):
        raise InputImageError(f"the painted mask is {brightness.shape[1]}x{brightness.shape[0]} and the photo "
                              f"{size[0]}x{size[1]}")
    return brightness


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
        raise InputImageError(f"the file is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    data = await request.body()
    if not data:
        raise InputImageError("the upload is empty")
    return data


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ConfigurationError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ConfigurationError("the request body must be a JSON object")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f'"{key}" is required text')
    return value


def _photo(board: Board, photo_id: str):
    photo = board.photo(photo_id)
    if photo is None:
        raise _NotFound(f"no photo {photo_id!r}: upload it again")
    return photo


def _cure(board: Board, cure_id: str):
    cure = board.cure(cure_id)
    if cure is None:
        raise _NotFound(f"no cure {cure_id!r}")
    return cure


class _NotFound(FreeCureError):
    exit_code = 2


def _error(status: int, message: str, exit_code: int | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "exit_code": exit_code}, status_code=status)


def _answered(endpoint):
    """Every failure as JSON {"error": one line, "exit_code": the command line's code}."""

    @functools.wraps(endpoint)
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except _NotFound as error:
            return _error(404, str(error), 2)
        except Exception as error:
            exit_code, message = failure_text(error)
            if exit_code == 1:
                logger.exception("unexpected failure of %s", request.url.path)
            return _error(STATUS_OF_EXIT_CODE.get(exit_code, 500), message, exit_code)

    return answer
