"""Hooks a script or a photo editor can hang on a cure: every step, the masks, every result.

    def brighter_hair(context):
        masks = context.masks
        masks["hair"] = masks["hair"].clamp(0, 1) ** 0.5       # soften toward the edges
        return masks

    fc.cure("photo.jpg", "a woman with red hair",
            callbacks=CureCallbacks(on_step=lambda step: print(step.phase, step.step, step.total),
                                    on_masks=brighter_hair))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F

# A linear map from Stable Diffusion's four latent channels to RGB, good enough for a thumbnail without
# running the autoencoder (the widely used approximation for SD 1.x/SDXL latents).
LATENT_RGB_FACTORS = torch.tensor(
    [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]]
)


@dataclass
class StepInfo:
    """One finished sampling step. `preview()` is a cheap RGB thumbnail of the latent (no decoding)."""

    phase: str
    step: int
    total: int
    latents: torch.Tensor

    def preview(self) -> PIL.Image.Image:
        latent = self.latents[0].detach().float().cpu()
        if latent.shape[0] != LATENT_RGB_FACTORS.shape[0]:
            latent = latent[:3] if latent.shape[0] >= 3 else latent.repeat(3, 1, 1)[:3]
            rgb = latent.permute(1, 2, 0)
        else:
            rgb = torch.einsum("chw,cr->hwr", latent, LATENT_RGB_FACTORS)
        pixels = ((rgb + 1.0) * 127.5).clamp(0, 255).round().to(torch.uint8).numpy()
        return PIL.Image.fromarray(pixels, "RGB")


@dataclass
class MaskContext:
    """The masks about to drive the cure, at the working size, with the working image they belong to.

    `masks` maps each attribute name to an (H, W) tensor in [0, 1] and holds "union", the mask the cure
    uses. `from_photo(mask)` brings a mask painted on the full photo into this frame (resized for a
    whole-image cure, cropped and rotated like the face for a face cure).
    """

    masks: dict[str, torch.Tensor]
    image: PIL.Image.Image
    photo_to_working: np.ndarray | None  # 2x3 affine, None for a plain resize
    photo_size: tuple[int, int]

    def from_photo(self, mask: torch.Tensor | np.ndarray | PIL.Image.Image) -> torch.Tensor:
        painted = _as_mask_array(mask)
        width, height = self.image.size
        if painted.shape != (self.photo_size[1], self.photo_size[0]):
            raise ValueError(
                f"the painted mask is {painted.shape[1]}x{painted.shape[0]}, the photo "
                f"{self.photo_size[0]}x{self.photo_size[1]}"
            )
        if self.photo_to_working is None:
            resized = F.interpolate(torch.from_numpy(painted)[None, None], size=(height, width), mode="area")[0, 0]
            return resized.clamp(0, 1)
        import cv2

        from freecure_edit.faces.warp import warp_affine

        warped = warp_affine(painted, self.photo_to_working, (width, height), interpolation=cv2.INTER_LINEAR,
                             border_mode=cv2.BORDER_CONSTANT)
        return torch.from_numpy(np.ascontiguousarray(warped)).float().clamp(0, 1)


@dataclass
class CureCallbacks:
    """on_step(StepInfo) after every sampling step; on_masks(MaskContext) before FASA runs, returning the
    masks to use (a dict like `context.masks`; without "union" it is rebuilt) or None to keep them;
    on_result(CureResult) when a cure is done."""

    on_step: Callable[[StepInfo], None] | None = None
    on_masks: Callable[[MaskContext], dict | None] | None = None
    on_result: Callable[[object], None] | None = None


def cancel_requested(cancel) -> bool:
    """Whether `cancel` (None, an object with `is_set()` such as a threading.Event, or a callable
    returning bool) asks the cure to stop."""
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    return bool(is_set() if is_set is not None else cancel())


def check_cancel_hook(cancel) -> None:
    if cancel is not None and not (callable(getattr(cancel, "is_set", None)) or callable(cancel)):
        raise TypeError(f"cancel must be a threading.Event or a callable returning bool, got {type(cancel).__name__}")


def raise_if_cancelled(cancel) -> None:
    if cancel_requested(cancel):
        from freecure_edit.errors import CureCancelled

        raise CureCancelled("the cure was cancelled")


def _as_mask_array(mask) -> np.ndarray:
    if isinstance(mask, PIL.Image.Image):
        return np.asarray(mask.convert("L"), dtype=np.float32) / 255.0
    if isinstance(mask, torch.Tensor):
        return mask.detach().float().cpu().numpy()
    array = np.asarray(mask, dtype=np.float32)
    return array / 255.0 if array.max() > 1.0 else array
