"""Where a face is, how it is rolled, and the similarity transform that frames it upright.

Coordinates follow OpenCV: the centre of pixel (i, j) is at x = i, y = j, so an image of N pixels spans
[-0.5, N - 0.5] and its centre is (N - 1) / 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from freecure_edit.faces.detected import LEFT_EYE, RIGHT_EYE, DetectedFace


@dataclass(frozen=True)
class FaceFrame:
    """A face's centre, roll (radians, direction of the eye line in the photo) and upright size (pixels)."""

    center: tuple[float, float]
    roll: float
    size: float


def face_frame(face: DetectedFace) -> FaceFrame:
    """The frame of a detection; without landmarks the face is taken as upright."""
    roll = roll_angle(face.landmarks) if face.landmarks is not None else 0.0
    # The detector's box is axis-aligned: around a rolled square face it is wider by |cos| + |sin|.
    # Undoing that keeps the crop's scale the same whatever the roll.
    growth = abs(math.cos(roll)) + abs(math.sin(roll))
    size = max(face.width, face.height) / growth
    return FaceFrame(center=face.center, roll=roll, size=size)


def roll_angle(landmarks: np.ndarray) -> float:
    """The angle of the line from the left to the right eye (as seen in the image), in radians."""
    dx, dy = np.asarray(landmarks, dtype=np.float64)[RIGHT_EYE] - np.asarray(landmarks, dtype=np.float64)[LEFT_EYE]
    return math.atan2(dy, dx)


def upright_crop_matrix(frame: FaceFrame, size: int, margin: float) -> np.ndarray:
    """The 2x3 photo -> crop transform: the face centred, its eyes level, `margin` face sizes on every side."""
    side = frame.size * (1.0 + 2.0 * margin)
    scale = size / side
    cos, sin = math.cos(frame.roll), math.sin(frame.roll)
    # Rotating by -roll takes the eye direction (cos, sin) to (1, 0): level eyes.
    linear = scale * np.array([[cos, sin], [-sin, cos]])
    middle = (size - 1) / 2.0
    translation = np.array([middle, middle]) - linear @ np.asarray(frame.center, dtype=np.float64)
    return np.hstack([linear, translation[:, None]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine transform."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 transform that applies `inner` then `outer`."""
    return (np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]]))[:2]


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points moved by a 2x3 transform."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def affine_scale(matrix: np.ndarray) -> float:
    """How much a similarity transform enlarges lengths."""
    return math.sqrt(abs(np.linalg.det(matrix[:, :2])))
