"""The worker's life: load the models once, say hello, answer request lines until end of input or a
shutdown request. A request that fails, in whatever way, gets an error reply and the worker goes on."""

from __future__ import annotations

import gc
import sys
import traceback
from typing import Any, BinaryIO

from freecure_edit.cli import worker_protocol as protocol
from freecure_edit.cli.config_options import config_values
from freecure_edit.cli.failures import describe_failure
from freecure_edit.cli.messages import error_line, note, one_line, warn
from freecure_edit.cli.model_options import check_face_pack, load_freecure, model_choice
from freecure_edit.cli.presets import apply_presets
from freecure_edit.cli.quiet import quiet_libraries, quiet_loaded_libraries
from freecure_edit.cli.worker_protocol import MessageWriter
from freecure_edit.cli.worker_settings import WorkerDefaults


def run_worker(params: dict[str, Any], given: set[str], requests: BinaryIO, writer: MessageWriter) -> None:
    """Start (or send a failed hello and raise), then serve `requests` until they end."""
    try:
        freecure, defaults, hello = _start(params, given)
    except Exception as error:
        writer.send(protocol.hello_failure(*describe_failure(error)))
        raise
    writer.send(hello)
    note(f"worker ready on the {hello['device']}, protocol {protocol.PROTOCOL_VERSION}: one JSON request per line")
    WorkerSession(freecure, defaults, writer, params["debug"]).serve(requests)


def _start(params: dict[str, Any], given: set[str]):
    quiet_libraries(params["debug"])
    from freecure_edit.config import CureConfig
    from freecure_edit.devices import pick_device

    device = pick_device(params["device"])
    values = config_values(params)
    start_values, notes = apply_presets(values, given, draft=params["draft"], device_type=device.type)
    # The defaults are checked now, before a model loads, as `fix` checks its options.
    start_config = CureConfig(**start_values)
    choice = model_choice(params, start_config.refine)
    if start_config.detect:
        check_face_pack(choice)
    for text in notes:
        note(text)
    quiet_loaded_libraries(params["debug"])
    freecure = load_freecure(choice, device, detect=start_config.detect)
    defaults = WorkerDefaults(values, frozenset(given), params["draft"], device.type, choice, start_config.detect,
                              params["jpeg_quality"], params["max_pixels"])
    hello = protocol.hello(choice.parameters(start_config.detect), str(device), start_config.to_dict())
    return freecure, defaults, hello


class WorkerSession:
    def __init__(self, freecure, defaults: WorkerDefaults, writer: MessageWriter, debug: bool):
        from freecure_edit.cli.worker_hooks import AttentionHookGuard

        self._freecure = freecure
        self._defaults = defaults
        self._writer = writer
        self._debug = debug
        self._hooks = AttentionHookGuard(freecure.backbone.attention_model)

    def serve(self, requests: BinaryIO) -> None:
        for number, raw in enumerate(iter(requests.readline, b""), start=1):
            if raw.strip() and not self._answer(raw, number):
                return

    def _answer(self, raw: bytes, number: int) -> bool:
        """Answer line `number`; False once it asked the worker to stop."""
        from freecure_edit.cli.worker_cure import run_cure_request
        from freecure_edit.cli.worker_request import cure_request

        message: dict[str, Any] = {}
        failed = False
        try:
            message = protocol.read_message(raw)
            if protocol.request_type(message) == "shutdown":
                self._writer.send(protocol.bye(protocol.echoed_id(message)))
                note("shutdown requested")
                return False
            reply = run_cure_request(self._freecure, self._defaults, cure_request(message), self._writer.send)
        except Exception as error:
            reply, failed = self._failure(protocol.echoed_id(message), error), True
        if failed:
            _release_memory()
        if self._hooks.restore():
            warn(f"line {number} left attention processors installed; the loaded ones are back")
        self._writer.send(reply)
        self._log(reply, number)
        return True

    def _failure(self, request_id, error: Exception) -> dict[str, Any]:
        exit_code, message = describe_failure(error)
        if self._debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        return protocol.result(request_id, {}, (exit_code, message))

    @staticmethod
    def _log(reply: dict[str, Any], number: int) -> None:
        name = f"line {number}" if reply["id"] is None else f"request {reply['id']!r}"
        if reply["status"] != "ok":
            error_line(f"{name}: {reply['error']}")
            return
        cured = ", ".join(repr(attribute["text"]) for attribute in reply["attributes"]) or "nothing"
        note(f"{name}: cured {one_line(cured)} in {reply['seconds']:g} s")


def _release_memory() -> None:
    """After a failure, once its traceback is gone: what the failed run still held (in reference cycles,
    or cached by torch's allocator after running out) is freed now, not whenever the collector comes
    round."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
