"""A long-lived cure service for any front end (the stdio worker, the web page, a script): requests
with ids, progress and preview events, cancellation, and a queue in front of one loaded FreeCure.

    from freecure_edit.service import CureJob, CureService, run_cure_job

    service = CureService(fc, listener=lambda event: print(event.kind, event.request_id))
    service.submit("r1", lambda job: run_cure_job(fc, CureJob("a woman with red hair", "a.jpg"), job))
    service.cancel("r1")
    service.close()

No click or rich here: a front end maps the events to its own wire format or widgets.

A front end's core (the worker and the web page use it): may import the method and the lower
layers; never another front end.
"""

from freecure_edit.service.cancel import RequestCancelled, cancellable_cure
from freecure_edit.service.events import ServiceEvent
from freecure_edit.service.images import load_painted_mask, painted_masks, png_base64
from freecure_edit.service.job import CureJob, CureOutcome, load_job_photo, run_cure_job
from freecure_edit.service.queue import CureService, JobContext

__all__ = [
    "CureJob",
    "CureOutcome",
    "CureService",
    "JobContext",
    "RequestCancelled",
    "ServiceEvent",
    "cancellable_cure",
    "load_job_photo",
    "load_painted_mask",
    "painted_masks",
    "png_base64",
    "run_cure_job",
]
