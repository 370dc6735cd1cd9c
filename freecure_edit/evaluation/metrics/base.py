"""What a metric sees of one result, and what every metric offers the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import PIL.Image
import torch


@dataclass
class Sample:
    """One output to score: the input photo and the output at the same (working) size, the prompt, the
    input's face (None when no face locator is loaded or none was found), the mask of the cure on
    this photo and prompt, fetched only when a metric asks for it, and the photo's file (None when it
    came from no file), for a metric that reads more than pixels (the toy world's drawings' recipes)."""

    photo: PIL.Image.Image
    output: PIL.Image.Image
    prompt: str
    face: object | None = None
    mask: Callable[[], torch.Tensor | None] = lambda: None
    warnings: list[str] = field(default_factory=list)
    source: Path | None = None


class Metric:
    """A loaded metric. `provides` names the values `score` returns (None where undefined for a sample)."""

    name = ""
    provides: tuple[str, ...] = ()
    # Whether `locate_face` finds the input's face, which the other metrics' face crops then use.
    locates_faces = False

    def score(self, sample: Sample) -> dict[str, float | None]:
        raise NotImplementedError

    def locate_face(self, photo: PIL.Image.Image):
        return None

    def ideal(self, sample: Sample) -> PIL.Image.Image | None:
        """The output a perfect method would make, where the metric knows it (the toy world redraws it)."""
        return None

    def describe(self) -> dict:
        """What was loaded, for summary.json."""
        return {"name": self.name}


def face_crop(image: PIL.Image.Image, face, size: int) -> PIL.Image.Image:
    """The square around `face`'s box (the whole image without a face), resized to `size`."""
    if face is None:
        return image.convert("RGB").resize((size, size), PIL.Image.BICUBIC)
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = tuple(round(v) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return image.convert("RGB").crop(box).resize((size, size), PIL.Image.BICUBIC)
