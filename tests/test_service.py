"""The library's service in-process on the tiny model: requests run one at a time in their order with
their events, a cancel stops a running cure between two steps (processors back, the next cure as it
would have been) or a queued one before it starts, and a failure is that request's reply alone."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.errors import ConfigurationError, InputImageError
from freecure_edit.service import CureJob, CureService, RequestCancelled, ServiceEvent, run_cure_job
from freecure_edit.service.cancel import cancellable_cure

STEPS = 4
HAIR = "a man with black curly hair"
WAIT = 120  # seconds; a busy 2-core machine


class Recorder:
    """Every event, in order, and a way to wait for the final event of an id."""

    def __init__(self, on_event=None):
        self.events: list[ServiceEvent] = []
        self._finished = threading.Condition()
        self._on_event = on_event

    def __call__(self, event: ServiceEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)
        with self._finished:
            self.events.append(event)
            self._finished.notify_all()

    def final(self, request_id) -> ServiceEvent:
        with self._finished:
            assert self._finished.wait_for(lambda: self._final_of(request_id) is not None, timeout=WAIT), self.kinds()
            return self._final_of(request_id)

    def _final_of(self, request_id):
        return next((event for event in self.events if event.request_id == request_id and event.final), None)

    def of(self, request_id) -> list[ServiceEvent]:
        return [event for event in self.events if event.request_id == request_id]

    def kinds(self, request_id=None) -> list[str]:
        return [event.kind for event in self.events if request_id is None or event.request_id == request_id]


@pytest.fixture(scope="module")
def fc(tiny_model_folder):
    from freecure_edit.models.loading import load_pipeline

    return FreeCure(load_pipeline(tiny_model_folder("sd", "smooth"), device="cpu"),
                    parser=FixedRegionParser(HAIR_ON_TOP))


def cure_work(fc, photo, steps=STEPS, **job):
    return lambda context: run_cure_job(fc, CureJob(HAIR, photo, CureConfig(steps=steps, detect=False), **job),
                                        context)


def test_requests_run_in_their_order_each_with_its_events(fc, photo):
    recorder = Recorder()
    service = CureService(fc, recorder)
    service.submit("a", cure_work(fc, photo(64, 48, seed=1), previews=True))
    service.submit("b", cure_work(fc, photo(64, 48, seed=2)))
    assert service.close(timeout=WAIT)

    assert [event.request_id for event in recorder.events if event.kind == "started"] == ["a", "b"]
    for request_id in ("a", "b"):
        kinds = recorder.kinds(request_id)
        assert kinds[:2] == ["queued", "started"] and kinds[-1] == "done", kinds
        assert set(kinds[2:-1]) <= {"progress", "preview"} and "progress" in kinds
    # Each request's events come as one block: "b" starts after "a" is done.
    order = [event.request_id for event in recorder.events if event.kind not in ("queued",)]
    assert order == sorted(order)
    assert {event.data["phase"] for event in recorder.of("a") if event.kind == "preview"} >= {"foundation", "fasa"}
    assert not [event for event in recorder.of("b") if event.kind == "preview"]
    outcome = recorder.final("a").data["value"]
    assert outcome.image().size == (64, 48) and outcome.result.attributes


def test_a_cancel_stops_the_running_cure_before_its_next_step_and_the_next_cure_is_unchanged(fc, photo):
    source = photo(64, 48, seed=3)
    unet = fc.backbone.unet
    loaded = dict(unet.attn_processors)
    reference = fc.cure(source, HAIR, CureConfig(steps=STEPS, detect=False)).image
    stop_at = ("foundation", 2)
    service = None

    def cancel_during_foundation(event: ServiceEvent) -> None:
        if event.request_id == "long" and event.kind == "progress" and (
                event.data["phase"], event.data["done"]) == stop_at:
            assert service.cancel("long") == "running"

    recorder = Recorder(cancel_during_foundation)
    service = CureService(fc, recorder)
    service.submit("long", cure_work(fc, source, steps=50))
    service.submit("next", cure_work(fc, source))
    assert service.close(timeout=WAIT)

    cancelled = recorder.final("long")
    assert cancelled.kind == "cancelled" and cancelled.data == {"while": "running"}
    steps = [(event.data["phase"], event.data["done"]) for event in recorder.of("long") if event.kind == "progress"]
    assert steps[-1] == stop_at  # nothing was reported after the step during which the cancel came
    assert all(unet.attn_processors[name] is processor for name, processor in loaded.items())
    assert not [event for event in recorder.events if event.kind == "note"]  # the cure restored them itself
    after = recorder.final("next")
    assert after.kind == "done", repr(after.data)
    assert np.array_equal(np.asarray(after.data["value"].result.image), np.asarray(reference))


def test_a_queued_request_that_is_cancelled_never_starts(fc, photo):
    gate, running = threading.Event(), threading.Event()
    recorder = Recorder()
    service = CureService(fc, recorder)
    service.submit("first", lambda context: (running.set(), gate.wait(WAIT)))
    service.submit("queued", cure_work(fc, photo(64, 48)))
    service.submit("last", lambda context: "ran")
    assert running.wait(WAIT)

    assert service.cancel("queued") == "queued"
    assert service.snapshot() == {"running": "first", "queued": ["last"]}
    assert service.cancel("nobody") is None
    gate.set()
    assert service.close(timeout=WAIT)

    assert recorder.kinds("queued") == ["queued", "cancelled"]
    assert recorder.final("queued").data == {"while": "queued"}
    assert recorder.final("last").data == {"value": "ran"}


def test_a_failing_request_is_answered_alone_and_the_service_goes_on(fc, photo, tmp_path):
    small_mask = np.zeros((10, 10), dtype=np.float32)
    recorder = Recorder()
    service = CureService(fc, recorder)
    service.submit("bad mask", cure_work(fc, photo(64, 48), mask=small_mask))
    service.submit("missing", cure_work(fc, tmp_path / "missing.png"))
    service.submit("fine", cure_work(fc, photo(64, 48)))
    assert service.close(timeout=WAIT)

    assert isinstance(recorder.final("bad mask").data["error"], InputImageError)
    assert "painted mask is 10x10" in str(recorder.final("bad mask").data["error"])
    assert isinstance(recorder.final("missing").data["error"], InputImageError)
    assert recorder.final("fine").kind == "done"
    with pytest.raises(ConfigurationError, match="takes no more requests"):
        service.submit("late", lambda context: None)


def test_a_photo_over_the_pixel_limit_is_refused_before_the_cure(fc, photo):
    recorder = Recorder()
    service = CureService(fc, recorder)
    service.submit("big", cure_work(fc, photo(64, 48), max_pixels=64 * 48 - 1))
    assert service.close(timeout=WAIT)

    assert recorder.kinds("big") == ["queued", "started", "failed"]
    assert isinstance(recorder.final("big").data["error"], InputImageError)


def test_a_cure_cancelled_before_it_starts_does_not_run(fc, photo):
    cancel = threading.Event()
    cancel.set()
    calls = []

    with pytest.raises(RequestCancelled):
        cancellable_cure(fc, photo(64, 48), HAIR, CureConfig(steps=STEPS, detect=False), cancel=cancel,
                         progress=lambda *step: calls.append(step))
    assert calls == []
