"""The web page's state: the photos uploaded, and every cure with its progress, latest preview and
result, kept up to date from the service's events. Thread-safe: the service's thread writes, the
server's requests read."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import PIL.Image

from freecure_edit.failures import describe_failure as failure_text  # the command line's mapping
from freecure_edit.imageio import LoadedImage
from freecure_edit.service import events
from freecure_edit.service.events import ServiceEvent

MAX_PHOTOS = 32  # the oldest uploads are forgotten past this; each holds a decoded photo
MAX_CURES = 64


@dataclass
class Photo:
    id: str
    name: str
    loaded: LoadedImage
    faces: list[dict]


@dataclass
class Cure:
    id: str
    photo_id: str
    photo_name: str
    prompt: str
    state: str = "queued"  # queued, running, done, failed, cancelled
    phase: str | None = None
    done: int = 0
    total: int = 0
    error: str | None = None
    exit_code: int | None = None
    warnings: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    mask_sources: dict[str, str] = field(default_factory=dict)  # "callback" where the painted mask was used
    identity_similarity: float | None = None
    started: float | None = None
    seconds: float | None = None
    preview_png: bytes | None = None
    result_png: bytes | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "photo": self.photo_id, "name": self.photo_name, "prompt": self.prompt,
                "state": self.state, "phase": self.phase, "done": self.done, "total": self.total,
                "error": self.error, "exit_code": self.exit_code, "warnings": self.warnings,
                "attributes": self.attributes, "mask_sources": self.mask_sources, "identity_similarity": self.identity_similarity,
                "seconds": self.seconds, "has_preview": self.preview_png is not None,
                "has_result": self.result_png is not None}


def png_bytes(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    profile = image.info.get("icc_profile")
    image.save(buffer, format="PNG", **({"icc_profile": profile} if profile else {}))
    return buffer.getvalue()


class Board:
    def __init__(self):
        self._lock = threading.Lock()
        self._photos: OrderedDict[str, Photo] = OrderedDict()
        self._cures: OrderedDict[str, Cure] = OrderedDict()
        self._numbers = itertools.count(1)

    def add_photo(self, name: str, loaded: LoadedImage, faces: list[dict]) -> Photo:
        with self._lock:
            photo = Photo(f"p{next(self._numbers)}", name, loaded, faces)
            self._photos[photo.id] = photo
            while len(self._photos) > MAX_PHOTOS:
                self._photos.popitem(last=False)
            return photo

    def photo(self, photo_id: str) -> Photo | None:
        with self._lock:
            return self._photos.get(photo_id)

    def add_cure(self, photo: Photo, prompt: str) -> Cure:
        with self._lock:
            cure = Cure(f"c{next(self._numbers)}", photo.id, photo.name, prompt)
            self._cures[cure.id] = cure
            finished = [key for key, item in self._cures.items() if item.state in ("done", "failed", "cancelled")]
            for key in finished[: max(0, len(self._cures) - MAX_CURES)]:
                del self._cures[key]
            return cure

    def cure(self, cure_id: str) -> Cure | None:
        with self._lock:
            return self._cures.get(cure_id)

    def cures(self) -> list[dict[str, Any]]:
        with self._lock:
            return [cure.public() for cure in self._cures.values()]

    def on_event(self, event: ServiceEvent) -> None:
        """The service's listener (on its thread)."""
        with self._lock:
            cure = self._cures.get(event.request_id)
        if cure is None:
            return
        data = event.data
        if event.kind == events.STARTED:
            cure.state, cure.started = "running", time.perf_counter()
        elif event.kind == events.PROGRESS:
            cure.phase, cure.done, cure.total = data["phase"], data["done"], data["total"]
        elif event.kind == events.PREVIEW:
            cure.preview_png = png_bytes(data["image"])
        elif event.kind == events.DONE:
            outcome = data["value"]
            cure.result_png = png_bytes(outcome.image())
            cure.warnings = outcome.warnings
            cure.attributes = [attribute.text for attribute in outcome.result.attributes]
            cure.identity_similarity = outcome.result.identity_similarity
            cure.mask_sources = dict(outcome.result.mask_sources or {})
            cure.state = "done"
        elif event.kind == events.FAILED:
            cure.exit_code, cure.error = failure_text(data["error"])
            cure.state = "failed"
        elif event.kind == events.CANCELLED:
            cure.state, cure.exit_code, cure.error = "cancelled", 130, "cancelled"
        if event.final and cure.started is not None:
            cure.seconds = round(time.perf_counter() - cure.started, 2)
