"""The masks drawn over the photo, one colour per attribute, with a legend: to see what will change."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from freecure_edit.masks.base import rgb_image
from freecure_edit.masks.ops import resize_mask

# Distinct, saturated colours that read on skin and hair alike.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230),
)


def mask_overlay(image: Image.Image, masks: dict[str, torch.Tensor], alpha: float = 0.5) -> Image.Image:
    """`image` with each mask tinted in its colour (weight alpha x mask) and a legend of the names.
    Masks of another size are resized to the image."""
    photo = rgb_image(image)
    height, width = photo.height, photo.width
    canvas = torch.from_numpy(np.asarray(photo, dtype=np.float32).copy())
    for index, mask in enumerate(masks.values()):
        weight = resize_mask(mask.detach().float().cpu(), height, width).clamp(0, 1)[..., None] * alpha
        colour = torch.tensor(PALETTE[index % len(PALETTE)], dtype=torch.float32)
        canvas = canvas * (1 - weight) + colour * weight
    result = Image.fromarray(canvas.round().clamp(0, 255).to(torch.uint8).numpy())
    draw = ImageDraw.Draw(result)
    for index, name in enumerate(masks):
        top = 4 + 14 * index
        draw.rectangle((4, top, 14, top + 10), fill=PALETTE[index % len(PALETTE)], outline=(0, 0, 0))
        draw.text((18, top - 1), name, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return result
