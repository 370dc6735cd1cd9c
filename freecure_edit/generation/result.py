"""What `FreeCure.generate` returns: the cured generation and what it was made from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import PIL.Image
import torch

from freecure_edit.cure.config import CureConfig, CureStats
from freecure_edit.prompts import Attribute


@dataclass
class GenerationResult:
    """image: the cured generation. pd_image: the personalized model alone from the same noise (what the
    adapter gives without the cure); fd_image: the foundation branch (no identity). masks: one (H, W) map in
    [0, 1] per spatial attribute plus "union" (where FASA lent FD's keys). identity_similarity and
    pd_identity_similarity: the face pack's cosine between the reference face and the cured image, and
    the uncured one (None where no face was found in it). seed: of z_T, when drawn from one."""

    image: PIL.Image.Image
    pd_image: PIL.Image.Image
    fd_image: PIL.Image.Image
    masks: dict[str, torch.Tensor]
    attributes: list[Attribute]
    template: str
    prompt: str
    config: CureConfig
    seed: int | None
    adapter: dict
    warnings: list[str] = field(default_factory=list)
    stats: CureStats = field(default_factory=CureStats)
    identity_similarity: float | None = None
    pd_identity_similarity: float | None = None

    def summary(self) -> dict:
        """A JSON-ready description (no pixels)."""
        return {
            "prompt": self.prompt,
            "attributes": [
                {"text": a.text, "name": a.name, "kind": a.kind, "labels": list(a.labels), "remove": a.remove}
                for a in self.attributes
            ],
            "template": self.template,
            "seed": self.seed,
            "adapter": dict(self.adapter),
            "identity_similarity": self.identity_similarity,
            "pd_identity_similarity": self.pd_identity_similarity,
            "warnings": list(self.warnings),
            "config": self.config.to_dict(),
            "stats": self.stats.to_dict(),
        }

    def save_intermediates(self, folder: str | Path) -> list[Path]:
        """Write PD alone, FD and each mask as PNGs (each atomically)."""
        from freecure_edit.imageio import save_image

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = [save_image(self.pd_image, folder / "personalized.png", overwrite=True),
                   save_image(self.fd_image, folder / "foundation.png", overwrite=True)]
        for name, mask in self.masks.items():
            pixels = (mask.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            written.append(save_image(PIL.Image.fromarray(pixels, "L"), folder / f"mask-{name}.png", overwrite=True))
        return written
