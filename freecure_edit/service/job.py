"""The usual request: cure one photo, with an optional mask painted on it, reporting its steps and
stopping when cancelled. Every front end (the worker, the web page, a script) runs this one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL.Image

from freecure_edit.cure.callbacks import CureCallbacks, StepInfo
from freecure_edit.cure.config import CureConfig
from freecure_edit.imageio import DEFAULT_MAX_PIXELS, LoadedImage, load_image
from freecure_edit.service.cancel import cancellable_cure
from freecure_edit.service.images import load_painted_mask, painted_masks
from freecure_edit.service.queue import JobContext


@dataclass(frozen=True)
class CureJob:
    prompt: str
    photo: Path | bytes | LoadedImage
    config: CureConfig = field(default_factory=CureConfig)
    mask: Path | bytes | np.ndarray | None = None  # painted on the photo: white cures, black keeps
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # None: no limit
    previews: bool = False  # a thumbnail of the latent after every sampling step


@dataclass
class CureOutcome:
    result: object  # the CureResult
    photo: LoadedImage
    input_warnings: list[str]  # the photo's and the mask's (the cure's own are in result.warnings)

    @property
    def warnings(self) -> list[str]:
        return [*self.input_warnings, *self.result.warnings]

    def image(self) -> PIL.Image.Image:
        """The cure in the photo's own colour space, with its alpha: what a download should hold."""
        return self.photo.restore(self.result.image)


def load_job_photo(job: CureJob) -> LoadedImage:
    """The photo, refused (InputImageError) when it is unreadable or over the pixel limit."""
    return job.photo if isinstance(job.photo, LoadedImage) else load_image(job.photo, max_pixels=job.max_pixels)


def run_cure_job(freecure, job: CureJob, context: JobContext, photo: LoadedImage | None = None) -> CureOutcome:
    photo = photo or load_job_photo(job)
    warnings = list(photo.warnings)
    on_masks = None
    if job.mask is not None:
        painted = job.mask if isinstance(job.mask, np.ndarray) else load_painted_mask(
            job.mask, photo.size, job.max_pixels, warnings)
        if painted.shape != (photo.size[1], photo.size[0]):
            from freecure_edit.errors import InputImageError

            raise InputImageError(f"the painted mask is {painted.shape[1]}x{painted.shape[0]} and the photo "
                                  f"{photo.size[0]}x{photo.size[1]}; paint it over the whole photo")
        on_masks = painted_masks(painted)
    on_step = _previews(context) if job.previews else None
    result = cancellable_cure(freecure, photo, job.prompt, job.config, cancel=context.cancel,
                              progress=context.progress, callbacks=CureCallbacks(on_step=on_step, on_masks=on_masks))
    # A cancel that came after the last denoising step (during the paste-back) still cancels: the client
    # was told its request stops, and it may have moved on already; a result it gave up on is not kept.
    context.stop_if_cancelled()
    return CureOutcome(result, photo, warnings)


def _previews(context: JobContext):
    def on_step(step: StepInfo) -> None:
        context.preview(step.phase, step.step, step.total, step.preview())

    return on_step
