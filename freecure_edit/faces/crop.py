"""An upright square crop around one face, at the size the diffusion backbone works at.

The crop is a similarity transform of the photo (shift, roll, scale), kept as `matrix` so that paste-back
can undo it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import PIL.Image

from freecure_edit.errors import ConfigurationError
from freecure_edit.faces.detected import DetectedFace
from freecure_edit.faces.geometry import affine_scale, face_frame, upright_crop_matrix
from freecure_edit.faces.warp import warp_affine

DEFAULT_CROP_SIZE = 512
# Face sizes added on every side of the face: 0.6 gives a crop 2.2 face sizes wide, room for the hair,
# earrings and most hats that prompts ask about, while the face still fills half the crop.
DEFAULT_MARGIN = 0.6

# Enlarging costs the photo nothing: paste-back shrinks the result to the photo's own resolution again.
# Past 4x (a face box under about 60 px for a 512 crop at the default margin) the crop is so blurred that
# the model edits a smudge, and what it draws there is its own invention, not the person's features.
UPSCALE_WARNING = 4.0
# Shrinking loses detail the photo has, and paste-back cannot bring it back: past 2x (a face box over
# about 465 px for 512, 930 px for 1024) the cured face is visibly softer than the pixels around it.
DOWNSCALE_WARNING = 2.0


@dataclass(frozen=True, eq=False)
class FaceCrop:
    """A face cropped upright. `matrix` (2x3) maps photo pixels to crop pixels."""

    image: PIL.Image.Image
    matrix: np.ndarray
    size: int
    face: DetectedFace
    warnings: list[str] = field(default_factory=list)

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel: above 1 the face was enlarged, below 1 shrunk."""
        return affine_scale(self.matrix)


def crop_face(
    rgb: PIL.Image.Image, face: DetectedFace, size: int = DEFAULT_CROP_SIZE, margin: float = DEFAULT_MARGIN
) -> FaceCrop:
    """A `size` x `size` crop centred on `face`, rolled so the eyes are level.

    Where the crop reaches past the photo's edge, the edge pixels are repeated: a plain continuation the
    model can work with, unlike black bars or a mirrored second face. Paste-back only writes inside the
    photo, so that padding never comes back.
    """
    if size < 1:
        raise ConfigurationError(f"face crop size {size} is not positive; use the backbone's size (512 or 1024)")
    if margin < 0:
        raise ConfigurationError(f"face crop margin {margin} is negative; use 0 or more (default {DEFAULT_MARGIN})")
    if face.width <= 0 or face.height <= 0:
        raise ConfigurationError(f"face {face.index} has an empty box {face.box}")
    matrix = upright_crop_matrix(face_frame(face), size, margin)
    pixels = warp_affine(np.asarray(rgb.convert("RGB")), matrix, (size, size), border_mode=cv2.BORDER_REPLICATE)
    return FaceCrop(
        image=PIL.Image.fromarray(pixels, "RGB"),
        matrix=matrix,
        size=size,
        face=face,
        warnings=size_warnings(face, affine_scale(matrix), size),
    )


def size_warnings(face: DetectedFace, scale: float, size: int) -> list[str]:
    """What the crop's resampling costs, when it costs more than the thresholds above allow."""
    if scale > UPSCALE_WARNING:
        return [
            f"face {face.index} is small for a {size} px crop: it is enlarged {scale:.1f}x, so its fine detail "
            "comes from the model rather than from the photo"
        ]
    if scale < 1.0 / DOWNSCALE_WARNING:
        return [
            f"face {face.index} is large for a {size} px crop: it is shrunk {1.0 / scale:.1f}x, so detail finer "
            "than that is lost and the cured face will look softer than the rest of the photo"
        ]
    return []
