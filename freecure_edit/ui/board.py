"""The web page's state: the photos uploaded, and every cure with its progress, latest preview and
result, kept up to date from the service's events. Thread-safe: the service's thread writes, the
server's requests read.

Photos are shared by every tab of the page. They are bounded by their decoded size (`photo_memory`,
`ui --photo-memory`), not by their count: a photo that a cure on the board refers to (queued, running
or finished and listed) is never forgotten; past the bound the least recently used of the others go,
and when only needed photos are left a new upload is refused with a message saying so. Ids are
random, so that nothing outside the page can guess them."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import PIL.Image

from freecure_edit import __version__
from freecure_edit.errors import InputImageError, OutOfMemoryError
from freecure_edit.failures import describe_failure as failure_text  # the command line's mapping
from freecure_edit.imageio import DEFAULT_METADATA, LoadedImage, encoded_image
from freecure_edit.service import events
from freecure_edit.service.events import ServiceEvent

# 2 GiB of decoded photos: about fifty 12-megapixel photos at 3 bytes a pixel.
DEFAULT_PHOTO_MEMORY = 2048 * 1024 * 1024
MAX_CURES = 64  # finished cures listed; the oldest finished ones go past this


@dataclass
class Photo:
    id: str
    name: str
    loaded: LoadedImage
    faces: list[dict]

    @property
    def bytes(self) -> int:
        """What the decoded photo holds in memory (RGB, and its alpha)."""
        width, height = self.loaded.size
        return width * height * (4 if self.loaded.alpha is not None else 3)


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
    """A preview or mask as PNG, in its own colour profile and without other metadata."""
    return encoded_image(image, "preview.png", metadata="strip")


class Board:
    def __init__(self, photo_memory: int = DEFAULT_PHOTO_MEMORY, metadata: str = DEFAULT_METADATA):
        self.photo_memory = photo_memory
        self.metadata = metadata
        self._lock = threading.Lock()
        self._photos: OrderedDict[str, Photo] = OrderedDict()  # least recently used first
        self._cures: OrderedDict[str, Cure] = OrderedDict()

    def add_photo(self, name: str, loaded: LoadedImage, faces: list[dict]) -> Photo:
        photo = Photo(_new_id("p"), name, loaded, faces)
        limit = _megabytes(self.photo_memory)
        if photo.bytes > self.photo_memory:
            raise InputImageError(f"{name} takes {_megabytes(photo.bytes)} decoded, more than the page keeps for "
                                  f"photos ({limit}, ui --photo-memory)")
        with self._lock:
            needed = {cure.photo_id for cure in self._cures.values()}
            for key in [key for key in self._photos if key not in needed]:
                if self._used() + photo.bytes <= self.photo_memory:
                    break
                del self._photos[key]
            if self._used() + photo.bytes > self.photo_memory:
                raise OutOfMemoryError(
                    f"the page's photo memory ({limit}, ui --photo-memory) is full of {len(self._photos)} photos "
                    f"that listed cures still need: wait for the queue, or restart with a larger --photo-memory")
            self._photos[photo.id] = photo
            return photo

    def photo(self, photo_id: str) -> Photo | None:
        with self._lock:
            photo = self._photos.get(photo_id)
            if photo is not None:
                self._photos.move_to_end(photo_id)
            return photo

    def memory(self) -> dict[str, int]:
        with self._lock:
            return {"photos": len(self._photos), "used_bytes": self._used(), "limit_bytes": self.photo_memory}

    def _used(self) -> int:
        return sum(photo.bytes for photo in self._photos.values())

    def add_cure(self, photo: Photo, prompt: str) -> Cure:
        with self._lock:
            cure = Cure(_new_id("c"), photo.id, photo.name, prompt)
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
            # As `fix` writes it: the upload's metadata as the policy allows, and the prompt and settings.
            parameters = {"prompt": cure.prompt, "config": outcome.result.config.to_dict(),
                          "freecure_edit_version": __version__}
            cure.result_png = encoded_image(outcome.image(), "result.png", source=outcome.photo, parameters=parameters,
                                            metadata=self.metadata)
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


def _new_id(kind: str) -> str:
    return kind + secrets.token_urlsafe(12)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"
