"""IF: the ArcFace cosine between the input's face and the output's, through insightface.

antelopev2's recogniser (glintr100) is the default, buffalo_l's (w600k_r50) the option. The face is
detected once on the input, and its landmarks align the output too (see freecure_edit.faces.identity
for why the output is not re-detected). A photo without a face gets no IF, and a warning.
"""

from __future__ import annotations

from freecure_edit.errors import ModelNotFoundError
from freecure_edit.evaluation.metrics.base import Metric, Sample

DEFAULT_FACE_PACK = "antelopev2"


class ArcFaceMetric(Metric):
    name = "arcface"
    provides = ("if",)
    locates_faces = True

    def __init__(self, pack: str | None = None, root: str | None = None, providers=None):
        from freecure_edit.faces import load_face_analyzer

        self.pack = pack or DEFAULT_FACE_PACK
        self.analyzer = load_face_analyzer(self.pack, root=root, providers=providers)
        if not self.analyzer.has_recognition:
            raise ModelNotFoundError(
                f"insightface pack '{self.pack}' in {self.analyzer.folder} has no recognition model, which IF needs"
            )

    def locate_face(self, photo):
        faces = self.analyzer.detect(photo)
        return faces[0] if faces else None

    def score(self, sample: Sample) -> dict[str, float | None]:
        if sample.face is None:
            sample.warnings.append("no face found in the input, so no IF")
            return {"if": None}
        return {"if": self.analyzer.identity_similarity(sample.photo, sample.output, sample.face)}

    def describe(self) -> dict:
        return {"name": self.name, "pack": self.pack, "folder": str(self.analyzer.folder)}
