"""Batches of drawings as arrays, for training and for the gates: deterministic from a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from freecure_edit.toyworld.world import FAMILIES, PortraitSpec, draw, sample_spec

# Seeds of drawings used for training start here; held-out drawings for the gates use another range.
TRAIN_SEED_BASE = 0
HELD_OUT_SEED_BASE = 10_000_000


@dataclass
class DrawingSet:
    images: np.ndarray  # uint8 (n, size, size, 3)
    labels: np.ndarray  # uint8 (n, size, size)
    captions: list[str]
    specs: list[PortraitSpec]

    def __len__(self) -> int:
        return len(self.specs)

    def pixels(self, index=slice(None)) -> torch.Tensor:
        """Images as float tensors in [-1, 1], (n, 3, size, size), the autoencoder's range."""
        return to_pixels(self.images[index])

    def targets(self) -> dict[str, torch.Tensor]:
        """Per attribute family, the index of each drawing's value; and "identity"."""
        out = {family: torch.tensor([values.index(getattr(s, family)) for s in self.specs])
               for family, values in FAMILIES.items()}
        out["identity"] = torch.tensor([s.identity for s in self.specs])
        return out


def to_pixels(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def from_pixels(pixels: torch.Tensor) -> np.ndarray:
    return ((pixels.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def drawing_set(count: int, seed: int, size: int = 64, **fixed) -> DrawingSet:
    """`count` drawings of random specs; drawing k uses seed `seed + k` for both its spec and its jitter."""
    images, labels, captions, specs = [], [], [], []
    for k in range(count):
        rng = np.random.default_rng([1234, seed + k])
        spec = sample_spec(rng, **fixed)
        drawing = draw(spec, seed + k, size)
        images.append(np.asarray(drawing.image))
        labels.append(drawing.labels)
        captions.append(drawing.caption)
        specs.append(spec)
    return DrawingSet(np.stack(images), np.stack(labels), captions, specs)
