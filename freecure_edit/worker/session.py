"""The worker's life: load the models once, say hello, answer request lines until end of input or a
shutdown request. A request that fails, in whatever way, gets an error reply and the worker goes on.

What the worker says besides its replies (ready, each request's outcome, warnings) goes to `say(level,
text)`, level "note", "warning" or "error": the command line prints it on stderr, the default logs it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO

from freecure_edit.cure.presets import apply_presets
from freecure_edit.errors import ConfigurationError
from freecure_edit.failures import describe_failure, one_line
from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA, check_metadata_policy
from freecure_edit.model_choice import check_models, check_working_size, load_freecure, model_choice
from freecure_edit.worker import protocol
from freecure_edit.worker.protocol import MessageWriter
from freecure_edit.worker.settings import WorkerDefaults

Say = Callable[[str, str], None]
_LEVELS = {"note": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def log(level: str, text: str) -> None:
    logging.getLogger("freecure_edit.worker").log(_LEVELS[level], text)


def run_worker(session: tuple, requests: BinaryIO, writer: MessageWriter, *, debug: bool = False,
               say: Say = log) -> None:
    """Say hello for a started `session` (start_session's), then serve `requests` until they end."""
    freecure, defaults, hello = session
    writer.send(hello)
    say("note", f"worker ready on the {hello['device']}, protocol {protocol.PROTOCOL_VERSION}: one JSON request "
                "per line")
    WorkerSession(freecure, defaults, writer, debug, say).serve(requests)


def start_session(values: dict[str, Any], given: set[str], *, draft: bool, models: dict[str, Any],
                  jpeg_quality: int, max_pixels: int | None, metadata: str = DEFAULT_METADATA, say: Say = log,
                  before_loading=None):
    """The loaded FreeCure, the start-up defaults and the hello line, for the worker and the web page.
    `values`: CureConfig keyword arguments; `given`: those the user chose (presets leave them alone);
    `models`: the model settings (freecure_edit.model_choice.MODEL_DEFAULTS' keys)."""
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.models.devices import pick_device

    device = pick_device(models.get("device"))
    start_values, notes = apply_presets(values, given, draft=draft, device_type=device.type)
    # The defaults are checked now, before a model loads, as `fix` checks its options.
    start_config = CureConfig(**start_values)
    choice = model_choice(models, start_config.refine)
    choice = check_models(choice, detect=start_config.detect)
    check_working_size(choice, start_config.working_size, device)
    notes = [*notes, *filter(None, [choice.face_pack_note])]
    for text in notes:
        say("note", text)
    if before_loading is not None:
        before_loading()
    freecure = load_freecure(choice, device, detect=start_config.detect)
    defaults = WorkerDefaults(values, frozenset(given), draft, device.type, choice, start_config.detect,
                              jpeg_quality, max_pixels, check_metadata_policy(metadata))
    hello = protocol.hello(choice.parameters(start_config.detect), str(device), start_config.to_dict())
    return freecure, defaults, hello


class WorkerSession:
    """The stdio transport over a CureService: this thread reads the lines, the service's thread runs
    them in order. Every line but a cancel goes through the queue, so that replies come in the order of
    the lines, as in protocol 1; a cancel is answered at once, while the request it stops still runs."""

    def __init__(self, freecure, defaults: WorkerDefaults, writer: MessageWriter, debug: bool, say: Say = log):
        from freecure_edit.service import CureService

        self._say = say
        self._freecure = freecure
        self._defaults = defaults
        self._writer = writer
        self._debug = debug
        # One label per queued line, for the log; the service answers lines one by one in their order.
        self._labels: deque[str] = deque()
        self._service = CureService(freecure, self._on_event)

    def serve(self, requests: BinaryIO) -> None:
        try:
            for number, raw in enumerate(iter(requests.readline, b""), start=1):
                if raw.strip() and not self._read(raw, number):
                    break
        except BaseException:
            self._service.cancel_all()  # Ctrl-C or a broken pipe: stop the running cure, drop the queue
            self._service.close()
            raise
        self._service.close()

    def _read(self, raw: bytes, number: int) -> bool:
        """Queue (or answer) line `number`; False once it asked the worker to stop."""
        message: dict[str, Any] = {}
        try:
            message = protocol.read_message(raw)
            kind = protocol.request_type(message)
        except protocol.BadRequestLine as error:
            return self._refuse(error.request_id, error, number)
        except Exception as error:
            return self._refuse(protocol.echoed_id(message), error, number)
        request_id = protocol.echoed_id(message)
        if kind == "cancel":
            self._cancel(message, request_id)
        elif kind == "shutdown":
            self._submit(request_id, number, lambda job: ("bye", protocol.bye(request_id)))
            return False
        elif self._service.in_flight(request_id):
            # Answered at once, as a cancel is: queued under the same id, one cancel would stop both.
            self._writer.send(self._failure(request_id, ConfigurationError(
                f"request id {request_id!r} is already queued or running: give each request in flight its own id")))
        else:
            self._submit(request_id, number, lambda job: ("reply", self._cure(message, job)))
        return True

    def _refuse(self, request_id, error: Exception, number: int) -> bool:
        def refused(job):
            raise error

        self._submit(request_id, number, refused)
        return True

    def _submit(self, request_id, number: int, work) -> None:
        self._labels.append(f"line {number}" if request_id is None else f"request {request_id!r}")
        self._service.submit(request_id, work)

    def _cure(self, message: dict[str, Any], job) -> dict[str, Any]:
        from freecure_edit.worker.cure import run_cure_request
        from freecure_edit.worker.request import cure_request

        return run_cure_request(self._freecure, self._defaults, cure_request(message), job)

    def _cancel(self, message: dict[str, Any], request_id) -> None:
        try:
            target = protocol.cancel_target(message)
        except Exception as error:
            self._writer.send(self._failure(request_id, error))
            return
        state = self._service.cancel(target)
        self._writer.send(protocol.cancel_reply(request_id, target, state))
        self._say("note", f"cancel of {target!r}: {state or 'not found'}")

    # -- on the service's thread -------------------------------------------------------------------

    def _on_event(self, event) -> None:
        from freecure_edit.service import events, png_base64

        request_id = event.request_id
        if event.kind == events.PROGRESS:
            data = event.data
            self._writer.send(protocol.progress(request_id, data["phase"], data["done"], data["total"]))
        elif event.kind == events.PREVIEW:
            data = event.data
            self._writer.send(protocol.preview(request_id, data["phase"], data["step"], data["total"],
                                               png_base64(data["image"])))
        elif event.kind == events.NOTE:
            self._say("warning", f"{self._labels[0] if self._labels else 'a line'}: {event.data['text']}")
        elif event.final:
            label = self._labels.popleft()
            if event.kind == events.DONE:
                kind, reply = event.data["value"]
            elif event.kind == events.FAILED:
                kind, reply = "reply", self._failure(request_id, event.data["error"])
            else:
                kind, reply = "reply", protocol.cancelled(request_id, event.data["while"])
            self._writer.send(reply)
            if kind == "bye":
                self._say("note", "shutdown requested")
            else:
                self._log(reply, label)

    def _failure(self, request_id, error: Exception) -> dict[str, Any]:
        exit_code, message = describe_failure(error)
        if self._debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        return protocol.result(request_id, {}, (exit_code, message))

    def _log(self, reply: dict[str, Any], name: str) -> None:
        if reply["status"] != "ok":
            self._say("error", f"{name}: {reply['error']}")
            return
        cured = ", ".join(repr(attribute["text"]) for attribute in reply["attributes"]) or "nothing"
        self._say("note", f"{name}: cured {one_line(cured)} in {reply['seconds']:g} s")
