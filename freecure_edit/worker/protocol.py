"""The wire format of `freecure-edit worker`: one JSON object per line on stdin and on stdout.

Every line the worker writes has a "type": "hello" once at start-up, "progress" and "preview" events
while a request runs, one "result" per request (a cancel message included), and "bye" before it exits
on a shutdown request. Events and replies carry the "id" of the request they belong to. Kept free of torch: a client (or a
test) can read this module to learn the format without loading anything.
"""

from __future__ import annotations

import json
import threading
from typing import Any, TextIO

from freecure_edit import __version__
from freecure_edit.errors import ConfigurationError

# Raised when a change could break a client written against the previous version: a field removed or
# renamed, a meaning changed. New optional fields and new event types do not change it.
PROTOCOL_VERSION = 1

REQUEST_TYPES = ("cure", "cancel", "shutdown")
DEFAULT_REQUEST_TYPE = "cure"
PROGRAM = "freecure-edit"  # named in the hello
CANCELLED_EXIT_CODE = 130  # the shell's code for an interrupted command


class BadRequestLine(ConfigurationError):
    """A line that is no request; `request_id` is the id it still let us read, for the reply to echo."""

    def __init__(self, message: str, request_id: str | int | None = None):
        super().__init__(message)
        self.request_id = request_id


def read_message(raw: bytes) -> dict[str, Any]:
    """One request line as a JSON object; a BadRequestLine (exit code 2) says what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"byte 0x{raw[error.start]:02x} at column {error.start + 1}"
        raise BadRequestLine(f"the request line is not UTF-8 text ({where})", _id_despite_bad_bytes(raw)) from None
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"the request line is not JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(message, dict):
        raise ConfigurationError('a request is a JSON object, like {"id": 1, "prompt": ..., "input": ...}')
    return message


def request_type(message: dict[str, Any]) -> str:
    kind = message.get("type", DEFAULT_REQUEST_TYPE)
    if kind not in REQUEST_TYPES:
        raise ConfigurationError(f"unknown request type {kind!r}; use one of {', '.join(REQUEST_TYPES)}")
    return kind


def _id_despite_bad_bytes(raw: bytes) -> str | int | None:
    """The id of a line whose bad bytes lie elsewhere (in a prompt or a path typed in another encoding),
    so that a client with several requests in flight can tell which one was refused. An id that itself
    holds a bad byte cannot be echoed as the client wrote it: None then."""
    try:
        message = json.loads(raw.decode("utf-8", errors="surrogateescape"))
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    value = echoed_id(message)
    if isinstance(value, str) and any("\udc80" <= character <= "\udcff" for character in value):
        return None
    return value


def echoed_id(message: dict[str, Any]) -> str | int | None:
    """The request's id as the reply echoes it: text or an integer, else None (the client cannot have
    meant anything else to match on)."""
    value = message.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return value


def hello(models: dict[str, str], device: str, defaults: dict[str, Any]) -> dict[str, Any]:
    return {"type": "hello", "status": "ok", "protocol": PROTOCOL_VERSION, "program": PROGRAM,
            "version": __version__, "models": models, "device": device, "defaults": defaults}


def hello_failure(exit_code: int, message: str) -> dict[str, Any]:
    """What a client reads when the worker could not start (a missing model, a bad option)."""
    return {"type": "hello", "status": "error", "protocol": PROTOCOL_VERSION, "program": PROGRAM,
            "version": __version__, "exit_code": exit_code, "error": message}


def progress(request_id, phase: str, done: int, total: int) -> dict[str, Any]:
    return {"type": "progress", "id": request_id, "phase": phase, "done": done, "total": total}


def preview(request_id, phase: str, step: int, total: int, png_base64: str) -> dict[str, Any]:
    return {"type": "preview", "id": request_id, "phase": phase, "step": step, "total": total,
            "png_base64": png_base64}


def result(request_id, fields: dict[str, Any], failure: tuple[int, str] | None = None) -> dict[str, Any]:
    """The one reply to a request: status "ok", or "error" with its exit code and message (the fields
    of a cure that still produced an image, such as one below min_identity, come with it)."""
    status = {"status": "ok"} if failure is None else {"status": "error", "exit_code": failure[0],
                                                        "error": failure[1]}
    return {"type": "result", "id": request_id, **status, **fields}


def cancelled(request_id, stage: str) -> dict[str, Any]:
    """The reply of a request stopped by a cancel message: an error (protocol 1 clients know "ok" and
    "error" only) with the interrupted code, and "cancelled": true for clients that know it."""
    when = "before it started" if stage == "queued" else "between two steps; nothing was written"
    return result(request_id, {"cancelled": True}, (CANCELLED_EXIT_CODE, f"cancelled {when}"))


def cancel_target(message: dict[str, Any]) -> str | int:
    target = message.get("target")
    if isinstance(target, bool) or not isinstance(target, (str, int)):
        raise ConfigurationError('a cancel message needs a "target": the id of the request to stop')
    unknown = sorted(set(message) - {"type", "id", "target"})
    if unknown:
        raise ConfigurationError(f"unknown cancel field(s) {', '.join(unknown)}; a cancel may have type, id, target")
    return target


def cancel_reply(request_id, target, state: str | None) -> dict[str, Any]:
    """The answer to a cancel message itself, at once: whether the target was found running or queued.
    The target's own reply follows when it has stopped."""
    if state is None:
        return result(request_id, {"target": target}, (2, f"no request {target!r} is queued or running"))
    return result(request_id, {"target": target, "state": state})


def bye(request_id) -> dict[str, Any]:
    return {"type": "bye", "id": request_id, "status": "ok"}


class MessageWriter:
    """Writes whole lines and flushes each, so that a client blocked on readline sees it at once.

    ASCII-only JSON: the line means the same whatever encoding the client's pipe assumes.
    """

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._lock = threading.Lock()  # the service's thread and the reader (cancel replies) both write

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, default=str) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()
