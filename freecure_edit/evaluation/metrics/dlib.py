"""IF through the dlib face pack: 1 - the distance of dlib's 128-d ResNet embeddings, offline and free to
use commercially (see faces.dlib_pack). The same person scores above 0.4 on this scale; ArcFace's cosine
(`arcface`) is a different scale, so compare IF only between runs of the same metric."""

from __future__ import annotations

from freecure_edit.evaluation.metrics.arcface import ArcFaceMetric


class DlibMetric(ArcFaceMetric):
    name = "dlib"

    def __init__(self, root: str | None = None):
        super().__init__("dlib", root)
