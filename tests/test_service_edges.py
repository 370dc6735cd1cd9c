"""Two edges of the service on the tiny model: a cancel that comes after the last denoising step, before
the output is written (the request is cancelled and nothing is written, whichever front end runs it),
and a listener that fails (that event is lost, the failure is logged and noted, the service goes on)."""

from __future__ import annotations

import logging
import threading

import pytest

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.service import CureJob, CureService, JobContext, RequestCancelled, run_cure_job
from test_service import HAIR, STEPS, WAIT, Recorder, cure_work


@pytest.fixture(scope="module")
def fc(tiny_model_folder):
    from freecure_edit.models.loading import load_pipeline

    return FreeCure(load_pipeline(tiny_model_folder("sd", "smooth"), device="cpu"),
                    parser=FixedRegionParser(HAIR_ON_TOP))


class CancelledAfterTheLastStep:
    """The loaded FreeCure, whose cure returns normally, every step done, with the cancel set just after:
    the cancel arrives once no step is left to look at it."""

    def __init__(self, freecure):
        self._freecure = freecure
        self.finished = 0

    def __getattr__(self, name):
        return getattr(self._freecure, name)

    def cure(self, *args, cancel: threading.Event, **kwargs):
        result = self._freecure.cure(*args, cancel=cancel, **kwargs)
        self.finished += 1
        cancel.set()
        return result


def test_a_cancel_after_the_last_step_cancels_the_request(fc, photo):
    late = CancelledAfterTheLastStep(fc)
    recorder = Recorder()
    service = CureService(fc, recorder)
    service.submit("late", cure_work(late, photo(64, 48)))
    service.submit("next", cure_work(fc, photo(64, 48)))
    assert service.close(timeout=WAIT)

    assert late.finished == 1  # the cure itself ran to its end
    assert recorder.final("late").kind == "cancelled" and recorder.final("late").data == {"while": "running"}
    assert recorder.final("next").kind == "done"


def test_a_cancel_after_the_last_step_leaves_no_output_file_from_the_worker(fc, photo, tmp_path):
    from freecure_edit.worker.cure import run_cure_request
    from freecure_edit.worker.request import cure_request
    from test_worker_parts import _defaults

    source = tmp_path / "in.png"
    photo(64, 48).save(source)
    target = tmp_path / "out.png"
    request = cure_request({"id": 1, "prompt": HAIR, "input": str(source), "output": str(target),
                            "options": {"steps": STEPS}})
    late = CancelledAfterTheLastStep(fc)
    context = JobContext(1, threading.Event(), lambda event: None)

    with pytest.raises(RequestCancelled):
        run_cure_request(late, _defaults(), request, context)
    assert late.finished == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.png"]  # no output, no partial file


def test_a_listener_that_fails_loses_one_event_and_the_service_goes_on(fc, photo, caplog):
    recorder = Recorder()

    def listener(event):
        if event.request_id == "first" and event.kind in ("started", "progress", "done"):
            raise OSError("the front end's pipe is closed")
        recorder(event)

    service = CureService(fc, listener)
    with caplog.at_level(logging.ERROR, logger="freecure_edit.service"):
        service.submit("first", cure_work(fc, photo(64, 48)))
        service.submit("second", cure_work(fc, photo(64, 48, seed=2)))
        service.submit("third", lambda context: "ran")
        assert service.close(timeout=WAIT)

    assert recorder.final("second").kind == "done" and recorder.final("third").data == {"value": "ran"}
    assert "done" not in recorder.kinds("first")  # what the listener failed on is lost
    notes = [event for event in recorder.of("first") if event.kind == "note"]
    assert {note.data["text"].split(":")[0] for note in notes} == {
        "a listener failed on the started event", "a listener failed on the progress event",
        "a listener failed on the done event"}
    assert all(isinstance(note.data["listener_error"], OSError) for note in notes)
    assert any("the listener failed on the done event of request 'first'" in record.getMessage()
               for record in caplog.records)


def test_a_listener_that_fails_on_everything_does_not_stop_the_service(fc):
    calls = []

    def broken(event):
        calls.append(event.kind)
        raise RuntimeError("broken front end")

    service = CureService(fc, broken)
    ran = []
    service.submit("a", lambda context: ran.append("a"))
    service.submit("b", lambda context: ran.append("b"))
    assert service.close(timeout=WAIT)
    assert ran == ["a", "b"]
    # Each failure is noted once (queued, started, done of both), and a failed note is not noted again.
    assert calls.count("done") == 2 and calls.count("note") == len(calls) - calls.count("note") == 6
