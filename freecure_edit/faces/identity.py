"""ArcFace identity: the aligned face a recogniser expects, and the cosine between two embeddings.

The similarity of an input and its cured version is measured at the input's landmarks on both images,
not at landmarks re-detected on the cured one. The cure keeps the photo's geometry (exact inversion, and
paste-back only writes inside the mask), so the input's landmarks still sit on the cured face. Re-detecting
would add the detector's jitter to the alignment, and ArcFace reads a shifted alignment as a different
face; it could also miss a face whose edit the detector dislikes, or pick another face. Reusing them
also costs no detector run.
"""

from __future__ import annotations

import numpy as np

from freecure_edit.faces.detected import DetectedFace

# insightface's 112-px ArcFace template (eyes, nose, mouth corners), the alignment the recogniser was
# trained on.
ARCFACE_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def alignment_landmarks(face: DetectedFace, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """The face's 5 landmarks, scaled by (sx, sy) for an image resized since detection.

    A detector without keypoints gives none: then the template is laid over the box, which aligns an
    upright face about as well as the box itself is placed.
    """
    if face.landmarks is not None:
        points = np.asarray(face.landmarks, dtype=np.float64)
    else:
        side = max(face.width, face.height)
        cx, cy = face.center
        points = np.array([cx - side / 2, cy - side / 2]) + ARCFACE_TEMPLATE_112 * (side / 112.0)
    return (points * np.asarray(scale, dtype=np.float64)).astype(np.float32)


def cosine_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Cosine of two embeddings in [-1, 1]; 0 when either is all zeros."""
    first = np.asarray(first, dtype=np.float64).ravel()
    second = np.asarray(second, dtype=np.float64).ravel()
    norms = np.linalg.norm(first) * np.linalg.norm(second)
    if norms == 0:
        return 0.0
    return float(np.clip(first @ second / norms, -1.0, 1.0))
