"""CureService: one loaded FreeCure behind a queue, served by one thread, for any front end.

    service = CureService(fc, listener=print)           # listener(ServiceEvent), called on the service's thread
    service.submit("r1", lambda job: run_cure_job(fc, CureJob(...), job))
    service.cancel("r1")                                 # queued: never runs; running: stops between steps
    service.close()                                      # finish what is queued, then stop

A request is any function of a `JobContext`; what it returns comes back in the "done" event. The
service runs one request at a time (a GPU holds one cure's tensors; two at once would only share its
time and double the memory), in the order submitted. After each request it checks that the attention
processors are the loaded ones again, and after a failure it frees what the failed run still held.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from freecure_edit.errors import ConfigurationError
from freecure_edit.service import events
from freecure_edit.service.cancel import RequestCancelled
from freecure_edit.service.events import Listener, ServiceEvent

logger = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a request's work sees: its id, its cancel flag, and the way to report steps."""

    request_id: Any
    cancel: threading.Event
    _emit: Callable[[ServiceEvent], None]

    def progress(self, phase: str, done: int, total: int) -> None:
        self._emit(ServiceEvent(events.PROGRESS, self.request_id, {"phase": phase, "done": done, "total": total}))

    def preview(self, phase: str, step: int, total: int, image) -> None:
        self._emit(ServiceEvent(events.PREVIEW, self.request_id,
                                {"phase": phase, "step": step, "total": total, "image": image}))

    def stop_if_cancelled(self) -> None:
        """For the work's own checkpoints (before writing a file): nothing after a cancel is kept."""
        if self.cancel.is_set():
            raise RequestCancelled("cancelled before its output was written")


@dataclass
class _Entry:
    request_id: Any
    work: Callable[[JobContext], Any]
    cancel: threading.Event = field(default_factory=threading.Event)


class CureService:
    def __init__(self, freecure, listener: Listener, *, start: bool = True):
        from freecure_edit.service.hooks import AttentionHookGuard

        self.freecure = freecure
        self._listener = listener
        self._queue: deque[_Entry] = deque()
        self._running: _Entry | None = None
        self._closed = False
        self._changed = threading.Condition()
        denoiser = _denoiser(freecure)
        self._hooks = AttentionHookGuard(denoiser) if denoiser is not None else None
        self._thread = threading.Thread(target=self._serve, name="freecure-service", daemon=True)
        if start:
            self._thread.start()

    # -- what a front end calls ------------------------------------------------------------------

    def submit(self, request_id: Any, work: Callable[[JobContext], Any]) -> None:
        """Queue `work` under `request_id` (None for a request that cannot be cancelled by id). Ids need
        not be unique; a cancel reaches every queued or running request with its id."""
        with self._changed:
            if self._closed:
                raise ConfigurationError("the service is closing and takes no more requests")
            self._queue.append(_Entry(request_id, work))
            position = len(self._queue)
            self._changed.notify_all()
        self._emit(ServiceEvent(events.QUEUED, request_id, {"position": position}))

    def cancel(self, request_id: Any) -> str | None:
        """Ask the request(s) with this id to stop: "running" when one is running (it stops before its
        next step), "queued" when only queued ones were found (each is answered as cancelled when its
        turn comes, without running), None when none is queued or running."""
        if request_id is None:
            return None
        with self._changed:
            found = None
            for entry in self._queue:
                if entry.request_id == request_id:
                    entry.cancel.set()
                    found = "queued"
            if self._running is not None and self._running.request_id == request_id:
                self._running.cancel.set()
                found = "running"
        return found

    def in_flight(self, request_id: Any) -> bool:
        """Whether a request with this id is queued (and not cancelled) or running."""
        if request_id is None:
            return False
        with self._changed:
            running = self._running is not None and self._running.request_id == request_id
            return running or any(entry.request_id == request_id and not entry.cancel.is_set()
                                  for entry in self._queue)

    def snapshot(self) -> dict[str, Any]:
        """The running request's id and the queued ones', in order (for a display of the queue)."""
        with self._changed:
            return {"running": None if self._running is None else self._running.request_id,
                    "queued": [entry.request_id for entry in self._queue if not entry.cancel.is_set()]}

    def close(self, *, cancel_queued: bool = False, timeout: float | None = None) -> bool:
        """Take no more requests, let the queued ones finish (or cancel them), and wait for the thread;
        True once it has stopped. Waits in short slices, so that Ctrl-C still reaches the caller."""
        with self._changed:
            self._closed = True
            if cancel_queued:
                for entry in self._queue:
                    entry.cancel.set()
            self._changed.notify_all()
        if not self._thread.is_alive():
            return True
        deadline = None if timeout is None else _now() + timeout
        while self._thread.is_alive():
            left = None if deadline is None else deadline - _now()
            if left is not None and left <= 0:
                return False
            self._thread.join(0.2 if left is None else min(0.2, left))
        return True

    def cancel_all(self) -> None:
        with self._changed:
            for entry in [*self._queue, *([self._running] if self._running else [])]:
                entry.cancel.set()

    # -- the service's thread --------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:
                    return
                entry = self._running = self._queue.popleft()
            try:
                self._run(entry)
            finally:
                with self._changed:
                    self._running = None

    def _run(self, entry: _Entry) -> None:
        if entry.cancel.is_set():
            self._emit(ServiceEvent(events.CANCELLED, entry.request_id, {"while": "queued"}))
            return
        self._emit(ServiceEvent(events.STARTED, entry.request_id))
        try:
            value = entry.work(JobContext(entry.request_id, entry.cancel, self._emit))
            final = ServiceEvent(events.DONE, entry.request_id, {"value": value})
        except RequestCancelled:
            final = ServiceEvent(events.CANCELLED, entry.request_id, {"while": "running"})
        except Exception as error:  # any failure is this request's reply, never the service's end
            final = ServiceEvent(events.FAILED, entry.request_id, {"error": error})
        if self._hooks is not None and self._hooks.restore():
            self._emit(ServiceEvent(events.NOTE, entry.request_id, {
                "text": "the request left attention processors installed; the loaded ones are back"}))
        failed = final.kind != events.DONE
        self._emit(final)
        del final  # a failure's traceback holds the failed run's tensors until here
        if failed:
            _release_memory()

    def _emit(self, event: ServiceEvent) -> None:
        """A listener that fails (a closed pipe, a bug in a front end) loses that event, and only that:
        the failure is logged and told to the listener as a note, and the request and the service go on.
        Were it raised here it would end the service's thread and every request queued after it."""
        try:
            self._listener(event)
        except Exception as error:  # noqa: BLE001 - see above
            logger.error("the listener failed on the %s event of request %r: %s: %s", event.kind,
                         event.request_id, type(error).__name__, error, exc_info=error)
            if event.kind == events.NOTE:
                return  # a listener that cannot take a note would fail again on this one
            note = ServiceEvent(events.NOTE, event.request_id, {
                "text": f"a listener failed on the {event.kind} event: {type(error).__name__}: {error}",
                "listener_error": error})
            try:
                self._listener(note)
            except Exception:  # noqa: BLE001 - logged once above
                pass


def _denoiser(freecure):
    backbone = getattr(freecure, "backbone", None)
    for name in ("unet", "transformer"):
        module = getattr(backbone, name, None)
        if module is not None and hasattr(module, "attn_processors"):
            return module
    return None


def _now() -> float:
    import time

    return time.monotonic()


def _release_memory() -> None:
    """After a failure: what the failed run still held (in reference cycles, or cached by torch's
    allocator after running out) is freed now, not whenever the collector comes round."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
