"""The toy world's face pack (`--face-pack toy`): the identity judge in the shape of a real pack.

A toy drawing is one centred portrait, so "detection" is the whole image, and the identity embedding is
the toy identity judge's (32 numbers, normalised). It is what the toy IP-Adapter FaceID was trained on,
as insightface's ArcFace embedding is what the real one was, so `generate` on the toy world reads the
reference drawing exactly as it reads a photo with a real pack. For the toy PlusV2 adapter it also gives
the reference's image features (the attribute judge's last feature map, as that adapter was trained),
in place of the CLIP image encoder a real FaceID Plus reads.
"""

from __future__ import annotations

import numpy as np
import PIL.Image

from freecure_edit.faces.detected import DetectedFace
from freecure_edit.faces.identity import cosine_similarity

TOY_PACK = "toy"


class ToyFaceAnalyzer:
    pack = TOY_PACK
    has_recognition = True

    def __init__(self, judges=None):
        from freecure_edit.toyworld.judges import load_judges

        self.judges = judges if judges is not None else load_judges()
        self.folder = None

    def detect(self, rgb: PIL.Image.Image) -> list[DetectedFace]:
        width, height = rgb.size
        return [DetectedFace(index=0, box=(0.0, 0.0, float(width), float(height)), score=1.0)]

    def embedding(self, rgb: PIL.Image.Image, face: DetectedFace, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
        return np.asarray(self.judges.identity_embeddings([rgb.convert("RGB")])[0], dtype=np.float64)

    def identity_similarity(self, image_a: PIL.Image.Image, image_b: PIL.Image.Image, face: DetectedFace) -> float:
        return cosine_similarity(self.embedding(image_a, face), self.embedding(image_b, face))

    def reference_features(self, image: PIL.Image.Image):
        """(cond, uncond) image features of the reference for the toy PlusV2 adapter, (1, 1, 16, width)
        each: the drawing's, and an all-zero input's (the features its training dropped to)."""
        from freecure_edit.toyworld.train_adapter import image_features

        pixels = np.asarray(image.convert("RGB"))[None]
        return image_features(self.judges, pixels)[:, None], image_features(self.judges)[:, None]
