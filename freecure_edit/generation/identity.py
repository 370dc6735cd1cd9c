"""The identity embedding of a reference photo, from the face pack, as IP-Adapter FaceID takes it.

IP-Adapter FaceID was trained on insightface's `normed_embedding`: the ArcFace embedding of the largest
face, divided by its length. Any loaded face pack gives it the same way here (the toy pack: the toy
identity judge's). The adapter's projection fixes the length it takes (512 for the real one), so a pack
whose embedding has another length (dlib's 128) is refused with a message, not fed into a wrong layer.
"""

from __future__ import annotations

import numpy as np
import PIL.Image

from freecure_edit.errors import ConfigurationError, InputImageError


def reference_embedding(analyzer, image: PIL.Image.Image, expected_dim: int | None = None,
                        name: str = "the reference image") -> np.ndarray:
    """The normalised embedding of the largest face in `image`."""
    if analyzer is None or not analyzer.has_recognition:
        raise ConfigurationError("generation needs a face pack with a recogniser for the identity embedding "
                                 "(--face-pack buffalo_l, or toy for the toy adapters)")
    faces = analyzer.detect(image)
    if not faces:
        raise InputImageError(f"no face found in {name}")
    face = max(faces, key=lambda found: found.area)
    embedding = np.asarray(analyzer.embedding(image, face), dtype=np.float64).ravel()
    if expected_dim is not None and embedding.shape[0] != expected_dim:
        raise ConfigurationError(
            f"the adapter takes {expected_dim}-number identity embeddings, and face pack "
            f"{getattr(analyzer, 'pack', '?')!r} gives {embedding.shape[0]}: use the pack it was trained with "
            "(insightface's buffalo_l or antelopev2 for IP-Adapter FaceID)")
    norm = np.linalg.norm(embedding)
    if norm == 0:
        raise InputImageError(f"the face pack gave an empty identity embedding for {name}")
    return embedding / norm


def generated_similarity(analyzer, reference: np.ndarray, image: PIL.Image.Image) -> float | None:
    """Cosine between the reference embedding and the largest face of a generated image; None without one."""
    faces = analyzer.detect(image)
    if not faces:
        return None
    face = max(faces, key=lambda found: found.area)
    embedding = np.asarray(analyzer.embedding(image, face), dtype=np.float64).ravel()
    norm = np.linalg.norm(embedding)
    return None if norm == 0 else float(np.clip(reference @ embedding / norm, -1.0, 1.0))
