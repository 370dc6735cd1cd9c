"""A face found in a photo, in the photo's pixel coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# insightface's 5 landmarks, in this order.
LEFT_EYE, RIGHT_EYE, NOSE, LEFT_MOUTH, RIGHT_MOUTH = range(5)


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One detection.

    `index` is the face's position in the detector's largest-first list, which is what users select by.
    `box` is (x0, y0, x1, y1); `landmarks` is (5, 2) in insightface's order (eyes, nose, mouth corners as
    seen in the image), or None for a detector without keypoints. `pack_points` are the pack's own
    landmarks where its recogniser aligns by other points (dlib's eye corners and nose), else None.
    """

    index: int
    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None
    pack_points: np.ndarray | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)
