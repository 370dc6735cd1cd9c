"""What a cure returns: the cured photo, and everything needed to see why it came out that way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import PIL.Image
import torch

from freecure_edit.cure.config import CureConfig, CureStats
from freecure_edit.prompts import Attribute


class _OnFirstAccess:
    """A dataclass field that holds a value, or a zero-argument function making it, called on first read.

    The reconstruction costs a whole autoencoder decode, which most callers never look at."""

    def __set_name__(self, owner, name: str) -> None:
        self._slot = "_" + name

    def __get__(self, instance, owner=None):
        if instance is None:
            raise AttributeError(self._slot)  # tells dataclasses that the field has no default
        value = instance.__dict__[self._slot]
        if callable(value):
            value = instance.__dict__[self._slot] = value()
        return value

    def __set__(self, instance, value) -> None:
        instance.__dict__[self._slot] = value


@dataclass
class CureResult:
    """image: the cured photo at the input's size. working_image: the cure at the working size, before
    the paste-back. reconstruction and fd_image: the photo branch without FASA (the photo through the
    autoencoder, with the exact front end, decoded on first access; None with the others) and the
    foundation branch, at the working size. masks: one (H, W) map in [0, 1] per
    spatial attribute at the working size, plus "union" (what FASA used) and "paste" (where the cure
    was blended into the photo). With several faces these intermediates are the first face's; `faces`
    describes each cured face (index, box, score, identity similarity, warnings). mask_sources says
    where each attribute's mask came from: "parser", "sam", or "attention" (less certain).
    identity_similarity: the ArcFace cosine between input and cured face (the lowest over the faces),
    None without a recogniser. below_threshold: it stayed under `min_identity` after `attempts` tries.
    config holds the settings used, the model's defaults filled in; model_defaults names the model whose
    defaults they are and which settings came from it."""

    image: PIL.Image.Image
    working_image: PIL.Image.Image | None
    reconstruction: PIL.Image.Image | None = _OnFirstAccess()  # or a function decoding it on first read
    fd_image: PIL.Image.Image | None
    masks: dict[str, torch.Tensor]
    attributes: list[Attribute]
    template: str
    config: CureConfig
    warnings: list[str] = field(default_factory=list)
    stats: CureStats = field(default_factory=CureStats)
    identity_similarity: float | None = None
    faces: list[dict] = field(default_factory=list)
    mask_sources: dict[str, str] = field(default_factory=dict)
    below_threshold: bool = False
    attempts: int = 1
    model_defaults: dict = field(default_factory=dict)  # {"model": name, "used": settings it filled in}

    def summary(self) -> dict:
        """A JSON-ready description (no pixels)."""
        return {
            "attributes": [
                {"text": a.text, "name": a.name, "kind": a.kind, "labels": list(a.labels), "remove": a.remove}
                for a in self.attributes
            ],
            "template": self.template,
            "identity_similarity": self.identity_similarity,
            "below_threshold": self.below_threshold,
            "attempts": self.attempts,
            "faces": list(self.faces),
            "mask_sources": dict(self.mask_sources),
            "warnings": list(self.warnings),
            "config": self.config.to_dict(),
            "model_defaults": dict(self.model_defaults),
            "stats": self.stats.to_dict(),
        }

    def save_intermediates(self, folder: str | Path) -> list[Path]:
        """Write the FD image, the reconstruction, each mask and the mask overlay as PNGs."""
        from freecure_edit.imageio import save_image
        from freecure_edit.masks import mask_overlay

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        images = {"cured-working": self.working_image, "reconstruction": self.reconstruction,
                  "foundation": self.fd_image}
        for name, image in images.items():
            if image is not None:
                written.append(save_image(image, folder / f"{name}.png", overwrite=True))
        for name, mask in self.masks.items():
            pixels = (mask.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            written.append(save_image(PIL.Image.fromarray(pixels, "L"), folder / f"mask-{name}.png", overwrite=True))
        if self.reconstruction is not None:
            per_attribute = {k: v for k, v in self.masks.items() if k not in ("union", "paste")}
            overlay = mask_overlay(self.reconstruction, per_attribute)
            written.append(save_image(overlay, folder / "mask-overlay.png", overwrite=True))
        return written
