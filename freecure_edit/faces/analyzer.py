"""Face detection, landmarks and identity embeddings through insightface's own model loading.

insightface routes each ONNX file of a pack by its signature (SCRFD detector, ArcFace recogniser, ...)
in `FaceAnalysis`; this module only finds the pack first (see `packs`), so that insightface is never
asked for a pack it would try to download.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import PIL.Image

from freecure_edit.errors import ModelNotFoundError
from freecure_edit.faces.detected import DetectedFace
from freecure_edit.faces.dlib_pack import DLIB_PACKS, DlibFaceAnalyzer, load_dlib_analyzer
from freecure_edit.faces.identity import alignment_landmarks, cosine_similarity
from freecure_edit.faces.packs import DEFAULT_PACK, expected_detector, expected_recognizer, locate_pack

# The detector's input side, insightface's usual setting: faces down to about 1/40 of the photo's
# longer side are found.
DEFAULT_DETECTION_SIZE = 640
DEFAULT_DETECTION_THRESHOLD = 0.5
# The only models kept: a pack's landmark and gender/age models would hold memory for nothing.
NEEDED_TASKS = ("detection", "recognition")


class FaceAnalyzer:
    """A loaded insightface pack: finds faces and compares identities."""

    def __init__(self, app, pack: str, folder: Path):
        self.pack = pack
        self.folder = folder
        self._detector = app.det_model
        self._recognizer = app.models.get("recognition")

    @property
    def has_recognition(self) -> bool:
        return self._recognizer is not None

    def detect(self, rgb: PIL.Image.Image) -> list[DetectedFace]:
        """Every face found, largest first; ties keep the detector's confidence order."""
        boxes, keypoints = self._detector.detect(_to_bgr(rgb), max_num=0)
        areas = [(box[2] - box[0]) * (box[3] - box[1]) for box in boxes]
        order = sorted(range(len(boxes)), key=lambda row: -areas[row])
        return [
            DetectedFace(
                index=index,
                box=tuple(float(value) for value in boxes[row, :4]),
                score=float(boxes[row, 4]),
                landmarks=None if keypoints is None else np.asarray(keypoints[row], dtype=np.float64),
            )
            for index, row in enumerate(order)
        ]

    def embedding(
        self, rgb: PIL.Image.Image, face: DetectedFace, scale: tuple[float, float] = (1.0, 1.0)
    ) -> np.ndarray:
        """The ArcFace embedding of `face` in `rgb` (landmarks scaled by `scale`), unnormalised."""
        from insightface.utils import face_align

        recognizer = self._require_recognizer()
        with warnings.catch_warnings():
            # insightface calls a scikit-image API that is deprecated, not broken: not the user's concern.
            warnings.simplefilter("ignore", FutureWarning)
            aligned = face_align.norm_crop(
                _to_bgr(rgb), landmark=alignment_landmarks(face, scale), image_size=recognizer.input_size[0]
            )
        return np.asarray(recognizer.get_feat(aligned), dtype=np.float64).ravel()

    def identity_similarity(
        self, image_a: PIL.Image.Image, image_b: PIL.Image.Image, face: DetectedFace
    ) -> float:
        """ArcFace cosine similarity in [-1, 1] between `face` in `image_a` and the same place in `image_b`.

        `face` was detected on `image_a`; its landmarks are reused on `image_b` (see `identity` for why),
        scaled if `image_b` has a different size.
        """
        scale = (image_b.width / image_a.width, image_b.height / image_a.height)
        return cosine_similarity(self.embedding(image_a, face), self.embedding(image_b, face, scale))

    def _require_recognizer(self):
        if self._recognizer is None:
            raise ModelNotFoundError(
                f"insightface pack '{self.pack}' in {self.folder} has no recognition model; identity "
                f"similarity needs one ({expected_recognizer(self.pack)}): add it to that folder or use a "
                f"full pack such as '{DEFAULT_PACK}'"
            )
        return self._recognizer


def load_face_analyzer(
    pack: str = DEFAULT_PACK,
    root: str | os.PathLike | None = None,
    providers: Sequence[str] | None = None,
    *,
    detection_threshold: float = DEFAULT_DETECTION_THRESHOLD,
    detection_size: int = DEFAULT_DETECTION_SIZE,
) -> FaceAnalyzer | DlibFaceAnalyzer:
    """Load an insightface pack (`buffalo_l`, `antelopev2`, ...) from disk; never downloads. The names
    `dlib` and `dlib-mmod` load the dlib pack instead (`faces.dlib_pack`; `root` is then a folder of its
    .dat files, and `providers` and the detection settings, which are insightface's, are not used).

    `root` is the pack folder, a folder holding it, or an insightface root; by default insightface's
    own (`$INSIGHTFACE_HOME` or `~/.insightface`). `providers` are onnxruntime execution providers;
    by default insightface picks (CUDA when onnxruntime-gpu has it, else CPU).
    """
    if pack in DLIB_PACKS:
        return load_dlib_analyzer(pack, root)
    folder = locate_pack(pack, root)
    from insightface.app import FaceAnalysis

    # insightface 0.7 picks default providers only when the argument is absent; an explicit None reaches
    # onnxruntime, which refuses it on GPU builds.
    session_options = {"providers": list(providers)} if providers else {}

    # insightface 0.7 prints every model it routes; a command-line tool should not.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            # A folder path as the name makes insightface load it as is: it only downloads names it
            # cannot find on disk.
            app = FaceAnalysis(
                name=str(folder), root=str(folder.parent), allowed_modules=list(NEEDED_TASKS), **session_options
            )
        except (AssertionError, KeyError) as error:
            # FaceAnalysis asserts that some file was routed to the detector.
            raise ModelNotFoundError(
                f"insightface pack '{pack}' in {folder} has no face detector ({expected_detector(pack)}): "
                f"the download may be incomplete, unzip {pack}.zip there again"
            ) from error
        except _damaged_file_errors() as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ModelNotFoundError(
                f"insightface pack '{pack}' in {folder} could not be loaded ({first_line}): "
                f"the files may be damaged, unzip {pack}.zip there again"
            ) from error
        app.prepare(ctx_id=0, det_thresh=detection_threshold, det_size=(detection_size, detection_size))
    return FaceAnalyzer(app, pack, folder)


def _damaged_file_errors() -> tuple[type[BaseException], ...]:
    """What onnx and onnxruntime raise for a truncated or corrupt .onnx file (not RuntimeError subclasses)."""
    from google.protobuf.message import DecodeError
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    return (
        RuntimeError,
        ValueError,
        OSError,
        DecodeError,
        ort_errors.Fail,
        ort_errors.InvalidProtobuf,
        ort_errors.InvalidGraph,
        ort_errors.NoSuchFile,
    )


def _to_bgr(rgb: PIL.Image.Image) -> np.ndarray:
    """insightface, like OpenCV, takes BGR pixel order."""
    return np.ascontiguousarray(np.asarray(rgb.convert("RGB"))[:, :, ::-1])
