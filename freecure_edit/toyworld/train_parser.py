"""Train the toy face parser: a SegformerForSemanticSegmentation on the drawings' label maps, on the
drawings themselves and on their autoencoder reconstructions (what it parses during a cure)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from freecure_edit.toyworld import architectures
from freecure_edit.toyworld.world import LABEL_NAMES

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def parser_input(pixels: torch.Tensor) -> torch.Tensor:
    """[-1, 1] pixels -> the SegFormer input, as `freecure_edit.masks.segformer` prepares a photo."""
    unit = (pixels + 1) / 2
    resized = F.interpolate(unit, size=(architectures.PARSER_INPUT,) * 2, mode="bilinear", antialias=True,
                            align_corners=False)
    return (resized - 0.5) / 0.5


def train_parser(images: torch.Tensor, labels: np.ndarray, steps: int, seed: int, batch: int = 16,
                 lr: float = 3e-3, log=print):
    from transformers import SegformerForSemanticSegmentation

    torch.manual_seed(seed)
    model = SegformerForSemanticSegmentation(architectures.segformer_config(LABEL_NAMES))
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    targets = torch.from_numpy(labels).long()
    generator = torch.Generator().manual_seed(seed)
    model.train()
    from freecure_edit.toyworld.train_generator import _set_lr

    for step in range(steps):
        index = torch.randint(len(images), (batch,), generator=generator)
        logits = model(pixel_values=parser_input(images[index])).logits
        logits = F.interpolate(logits, size=targets.shape[-2:], mode="bilinear", align_corners=False)
        loss = F.cross_entropy(logits, targets[index])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        _set_lr(optimiser, lr, step, steps)
        if step % 50 == 0 or step == steps - 1:
            log(f"parser step {step}/{steps} loss {loss.item():.4f}")
    return model.eval()


def save_parser(model, folder):
    # fp32: transformers loads a checkpoint in its stored dtype, and the project's parser feeds it fp32.
    folder = Path(folder)
    model.save_pretrained(str(folder), safe_serialization=True)
    size = architectures.PARSER_INPUT
    preprocessor = {"do_normalize": True, "do_resize": True, "image_mean": list(MEAN), "image_std": list(STD),
                    "image_processor_type": "SegformerImageProcessor", "size": {"height": size, "width": size}}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n")
