"""The face-parser interface and the CelebAMask-HQ label names every backend reports.

Models disagree on class order, so a backend maps its classes to these names by the names in its own
config, or, for a bare checkpoint, by the documented order of the model it was trained as.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from freecure_edit.errors import ConfigurationError, InputImageError

CANONICAL_LABELS: tuple[str, ...] = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)

# Class order of the zllrunning face-parsing.PyTorch BiSeNet (`79999_iter.pth`), where it was trained.
BISENET_LABEL_ORDER: tuple[str, ...] = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)

# Spellings other models and datasets use for the same classes.
_ALIASES: dict[str, str] = {
    "bg": "background", "face": "skin", "eyeglasses": "eye_g", "eye_glasses": "eye_g", "glasses": "eye_g",
    "eyeglass": "eye_g", "left_eye": "l_eye", "right_eye": "r_eye", "left_brow": "l_brow",
    "right_brow": "r_brow", "left_eyebrow": "l_brow", "right_eyebrow": "r_brow", "left_ear": "l_ear",
    "right_ear": "r_ear", "inner_mouth": "mouth", "upper_lip": "u_lip", "lower_lip": "l_lip",
    "earring": "ear_r", "earrings": "ear_r", "ear_ring": "ear_r", "necklace": "neck_l",
    "clothes": "cloth", "clothing": "cloth",
}


def canonical_label(name: str) -> str | None:
    """The canonical name for a model's class name, or None for a class that is not a face part."""
    key = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if key in CANONICAL_LABELS:
        return key
    return _ALIASES.get(key)


def map_label_names(names: Sequence[str], source: str) -> list[str | None]:
    """Canonical names for a model's classes, in its class order. `source` names the model in errors."""
    mapped = [canonical_label(str(n)) for n in names]
    known = [m for m in mapped if m is not None]
    if not known:
        raise ConfigurationError(
            f"{source} has no face-parsing class names ({', '.join(map(str, names[:3]))}...): "
            "pass label_order with its 19 class names in index order"
        )
    if len(set(known)) != len(known):
        raise ConfigurationError(f"{source} names a face-parsing class twice: {list(names)}")
    return mapped


def rgb_image(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB; grayscale, palette and alpha images are converted, anything else refused."""
    if not isinstance(image, Image.Image):
        raise InputImageError(f"expected a PIL image, got {type(image).__name__}")
    if image.width < 1 or image.height < 1:
        raise InputImageError(f"the image is empty ({image.width}x{image.height})")
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white, as most viewers show them, instead of their hidden colour.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit, 32-bit and float grayscale: PIL's convert("RGB") clips instead of scaling to 8 bits.
        array = np.asarray(image, dtype=np.float64)
        scaled = (array / max(float(array.max()), 1.0) * 255.0).round().astype(np.uint8)
        return Image.fromarray(scaled).convert("RGB")
    return image.convert("RGB")


def image_tensor(image: Image.Image, size: tuple[int, int], mean: Sequence[float], std: Sequence[float],
                 device: torch.device) -> torch.Tensor:
    """(1, 3, height, width) normalised input at `size` = (height, width), resized with antialiasing
    the way PIL's bilinear resize does."""
    pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)[None]
    pixels = pixels.float().div_(255.0)
    pixels = F.interpolate(pixels, size=size, mode="bilinear", antialias=True, align_corners=False)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((pixels - mean_t) / std_t).to(device)


def maps_from_logits(logits: torch.Tensor, labels: Sequence[str | None], size: tuple[int, int],
                     align_corners: bool = False) -> dict[str, torch.Tensor]:
    """Per-label probability maps at `size` = (height, width) from (1, classes, h, w) logits.

    Logits are resized before the softmax so that class boundaries stay sharp at full resolution.
    Classes mapped to None (not face parts) still take part in the softmax, then are left out.
    """
    if logits.shape[1] != len(labels):
        raise ConfigurationError(f"the model predicts {logits.shape[1]} classes but {len(labels)} label names are set")
    resized = F.interpolate(logits.float(), size=size, mode="bilinear", align_corners=align_corners)
    probabilities = resized.softmax(dim=1)[0].cpu()
    return {label: probabilities[i] for i, label in enumerate(labels) if label is not None}


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class FaceParser(ABC):
    """A face parser: an RGB image in, one map in [0, 1] per canonical label out.

    Maps are float32 CPU tensors of shape (height, width) of the input image. Labels the model does
    not have are absent from the result. Parsers work best on a face crop: the model sees the image
    resized to its input size.
    """

    name: str = "parser"

    @property
    @abstractmethod
    def labels(self) -> tuple[str, ...]:
        """The canonical labels this parser reports."""

    @abstractmethod
    def _parse_rgb(self, image: Image.Image) -> dict[str, torch.Tensor]:
        """Parse an image already converted to RGB."""

    @torch.no_grad()
    def parse(self, image: Image.Image) -> dict[str, torch.Tensor]:
        return self._parse_rgb(rgb_image(image))
