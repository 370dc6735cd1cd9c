"""The web page's server: one hand-written page and a small JSON API over a CureService.

    app = build_app(fc)                        # a Starlette (ASGI) application
    uvicorn.run(app, host="127.0.0.1", port=7860)

Photos come as the raw bytes of a file and are refused over the pixel limit, as by the command line;
cures are queued on the service and run one at a time; the page polls their state. Only the page
this server serves may call the API (guard.py); every body is counted as it arrives and refused past
MAX_UPLOAD_BYTES, whether or not the client said its length.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import io
import json
import logging
import unicodedata
import urllib.parse
from importlib import resources
from pathlib import PurePosixPath, PureWindowsPath
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
from freecure_edit.imageio import DEFAULT_MAX_PIXELS, DEFAULT_METADATA, load_image
from freecure_edit.imageio.metadata_policy import check_metadata_policy
from freecure_edit.overrides import read_overrides
from freecure_edit.service import CureJob, CureService, run_cure_job
from freecure_edit.service.inspect import photo_faces, prompt_regions
from freecure_edit.ui.board import DEFAULT_PHOTO_MEMORY, Board, failure_text, png_bytes
from freecure_edit.ui.guard import JSON_TYPES, UPLOAD_TYPES, Forbidden, Guard

logger = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
STATUS_OF_EXIT_CODE = {2: 400, 3: 422, 4: 500, 5: 507, 6: 422}
ConfigFor = Callable[[dict[str, Any]], CureConfig]


def default_config_for(options: dict[str, Any]) -> CureConfig:
    """A request's settings on the library's defaults (the command passes its own, with its options)."""
    return CureConfig(**read_overrides(options, "options").config)


def build_app(freecure, *, config_for: ConfigFor = default_config_for, max_pixels: int | None = DEFAULT_MAX_PIXELS,
              title: str = "freecure-edit", allowed_hosts: list[str] | None = None,
              photo_memory: int = DEFAULT_PHOTO_MEMORY, token: str | None = None,
              metadata: str = DEFAULT_METADATA) -> Starlette:
    """`allowed_hosts`: the Host headers answered (None: any). A server on localhost should allow only
    its own names, so that a web site cannot reach it through DNS rebinding. `photo_memory`: the bytes of
    decoded photos the page keeps (board.py). `token`: the page's secret (default: a new random one).
    `metadata`: what of an upload's metadata its download keeps (imageio.metadata_policy)."""
    board = Board(photo_memory, check_metadata_policy(metadata))
    guard = Guard(token)
    service = CureService(freecure, board.on_event)
    page = resources.files("freecure_edit.ui").joinpath("page.html").read_text(encoding="utf-8")

    async def index(request: Request) -> Response:
        html = page.replace("{{title}}", title).replace("{{token}}", guard.token)
        # The page holds the token: never cached, never framed by another site, no Referer sent on.
        return HTMLResponse(html, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                           "Content-Security-Policy": "frame-ancestors 'none'",
                                           "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"})

    async def upload(request: Request) -> Response:
        guard.check(request, content_types=UPLOAD_TYPES)
        data = await _body(request)
        name = upload_name(request.headers.get("x-filename"))
        loaded = await run_in_threadpool(load_image, data, max_pixels)
        faces = await run_in_threadpool(photo_faces, freecure, loaded.rgb)
        photo = board.add_photo(name, loaded, faces)
        return JSONResponse({"id": photo.id, "name": name, "width": loaded.size[0], "height": loaded.size[1],
                             "faces": faces, "warnings": loaded.warnings})

    async def photo_image(request: Request) -> Response:
        guard.check(request, token_in_query=True)
        photo = _photo(board, request.path_params["photo"])
        return Response(await run_in_threadpool(png_bytes, photo.loaded.rgb), media_type="image/png")

    async def explain(request: Request) -> Response:
        guard.check(request, content_types=JSON_TYPES)
        body = await _json(request)
        return JSONResponse(explain_prompt(_text(body, "prompt", required=False) or ""))

    async def masks(request: Request) -> Response:
        guard.check(request, content_types=JSON_TYPES)
        body = await _json(request)
        photo = _photo(board, _text(body, "photo"))
        regions = await run_in_threadpool(prompt_regions, freecure, photo.loaded.rgb, _text(body, "prompt"))
        union = (np.clip(regions["union"], 0, 1) * 255).round().astype(np.uint8)
        png = png_bytes(PIL.Image.fromarray(union, "L"))
        return JSONResponse({"mask_png": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
                             "attributes": [name for name in regions if name != "union"]})

    async def start_cure(request: Request) -> Response:
        guard.check(request, content_types=JSON_TYPES)
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
        guard.check(request)
        return JSONResponse({"cures": board.cures(), "queue": service.snapshot(), "photo_memory": board.memory()})

    async def cancel(request: Request) -> Response:
        guard.check(request, content_types=JSON_TYPES)
        cure = _cure(board, request.path_params["cure"])
        return JSONResponse({"id": cure.id, "state": service.cancel(cure.id)})

    async def preview(request: Request) -> Response:
        guard.check(request, token_in_query=True)
        cure = _cure(board, request.path_params["cure"])
        if cure.preview_png is None:
            return _error(404, "no preview yet")
        return Response(cure.preview_png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def result(request: Request) -> Response:
        guard.check(request, token_in_query=True)
        cure = _cure(board, request.path_params["cure"])
        if cure.result_png is None:
            return _error(404, f"cure {cure.id} has no result ({cure.state})")
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        if request.query_params.get("download"):
            headers["Content-Disposition"] = attachment(cured_name(cure.photo_name))
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
    app.state.token = guard.token
    return app


def upload_name(header: str | None) -> str:
    """The file name the page sent (percent-encoded, as HTTP headers carry only ASCII), decoded, without
    any folder part or control character: a name to show and to download under, never a path."""
    name = urllib.parse.unquote(header or "", errors="replace")
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip()
    return name if name not in ("", ".", "..") else "photo"


def cured_name(photo_name: str) -> str:
    stem = photo_name.rsplit(".", 1)[0] if "." in photo_name.strip(".") else photo_name
    return f"{stem or 'photo'}.cured.png"


def attachment(name: str) -> str:
    """A Content-Disposition that keeps any name (RFC 6266, RFC 5987): an ASCII fallback for old
    clients, and the UTF-8 name in filename*."""
    fallback = "".join(char if 32 <= ord(char) < 127 and char not in '"\\%' else "_" for char in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


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
            if image.size != size:  # read from the header: a mask of any other size is never decoded
                raise InputImageError(f"the painted mask is {image.width}x{image.height} and the photo "
                                      f"{size[0]}x{size[1]}")
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


class UploadTooLarge(InputImageError):
    """A body over MAX_UPLOAD_BYTES (HTTP 413)."""


async def _body(request: Request) -> bytes:
    """The request's body, counted as it arrives: refused as soon as it passes MAX_UPLOAD_BYTES, whether
    or not Content-Length said so (a chunked upload has none), so at most that much is ever held."""
    too_large = UploadTooLarge(f"the upload is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise too_large
        chunks.append(chunk)
    if not size:
        raise InputImageError("the upload is empty")
    return b"".join(chunks)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await _body(request))
    except UploadTooLarge:
        raise
    except (InputImageError, ValueError):  # empty, or not JSON
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
        except Forbidden as error:
            return _error(403, str(error), 2)
        except UploadTooLarge as error:
            return _error(413, str(error), 3)
        except Exception as error:
            exit_code, message = failure_text(error)
            if exit_code == 1:
                logger.exception("unexpected failure of %s", request.url.path)
            return _error(STATUS_OF_EXIT_CODE.get(exit_code, 500), message, exit_code)

    return answer
