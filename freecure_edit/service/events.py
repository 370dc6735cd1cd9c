"""What a service tells its front end about a request, in order: queued, started, progress and
preview events while it runs, then exactly one of done, failed or cancelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

QUEUED = "queued"
STARTED = "started"
PROGRESS = "progress"
PREVIEW = "preview"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
NOTE = "note"  # something the operator should know that belongs to no reply (processors restored)

FINAL_KINDS = (DONE, FAILED, CANCELLED)


@dataclass(frozen=True)
class ServiceEvent:
    """`data` by kind: progress {phase, done, total}; preview {phase, step, total, image (PIL)};
    done {value: what the request's work returned}; failed {error: the exception}; cancelled
    {while: "queued" or "running"}; note {text, and listener_error when a listener failed}."""

    kind: str
    request_id: Any
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.kind in FINAL_KINDS


Listener = Callable[[ServiceEvent], None]
