"""The dlib face pack: face detection (HOG, or the MMOD CNN), five landmarks and a 128-d identity
embedding, from two PyPI packages that install without a compiler and work offline:

- `dlib-bin` (a prebuilt dlib; Boost licence): the detectors, shape predictor and ResNet runtimes;
- `face_recognition_models`: the trained files. Its `__init__` imports `pkg_resources`, which current
  setuptools no longer ships, so the files are found through the package's location, never imported.

Used files: `shape_predictor_5_face_landmarks.dat` (eye corners and nose), `dlib_face_recognition_resnet_
model_v1.dat` (identity; its authors released it without restriction) and, for `dlib-mmod`,
`mmod_human_face_detector.dat`. The 68-point predictor in the same package was trained on iBUG 300-W,
which is not for commercial use: it is never loaded.

Identity similarity is reported as 1 - (Euclidean distance of the two embeddings), clipped to [-1, 1]:
dlib calls two faces the same person below distance 0.6 (99.38% on LFW), which is similarity above 0.4.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import PIL.Image

from freecure_edit.errors import ModelNotFoundError
from freecure_edit.faces.detected import DetectedFace, LEFT_EYE, NOSE, RIGHT_EYE
from freecure_edit.faces.identity import ARCFACE_TEMPLATE_112, alignment_landmarks

# Pack name -> detector.
DLIB_PACKS = {"dlib": "hog", "dlib-mmod": "mmod"}
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
MMOD_FILE = "mmod_human_face_detector.dat"
INSTALL_HINT = "pip install 'freecure-edit[dlib]' (dlib-bin and face_recognition_models)"
LICENCE = ("dlib-bin: Boost Software License; the model files: CC0 1.0 / public domain (face_recognition_models' "
           "LICENSE), commercial use allowed; its 68-point predictor (iBUG 300-W, non-commercial) is never loaded")

# dlib's same-person threshold on the embedding distance, and so 0.4 on the similarity scale.
SAME_PERSON_DISTANCE = 0.6
SAME_PERSON_SIMILARITY = 1.0 - SAME_PERSON_DISTANCE

# Detection runs on the photo shrunk to this longer side (never enlarged): dlib's detectors find faces
# from about 80 px, so HOG, upsampled once, finds faces down to about 1/32 of the longer side (near
# insightface's 1/40 at its 640 px input). The MMOD CNN is not upsampled (faces from about 1/16 of the
# side): upsampled, it took 22 s on a 512 px photo on this project's 2-core CPU. Landmarks and
# embeddings are taken at full resolution.
DETECTION_SIDE = 1280
UPSAMPLE = {"hog": 1, "mmod": 0}
# HOG scores: on scikit-image's astronaut a false face at 0.12 beside the true one at 1.16; the six
# faces of insightface's t1.jpg score 0.37 to 2.77. MMOD's confidences are on a similar scale.
HOG_THRESHOLD = 0.25
MMOD_THRESHOLD = 0.25

# dlib's five points: the corners of the eye on the image's right (0, 1), of the eye on its left (2, 3),
# and the bottom of the nose (4).
_IMAGE_RIGHT_EYE, _IMAGE_LEFT_EYE, _NOSE_BOTTOM = (0, 1), (2, 3), 4


def models_folder(root: str | os.PathLike | None = None) -> Path | None:
    """The folder holding the dlib model files: `root` when given, else face_recognition_models'."""
    if root is not None:
        return Path(root).expanduser()
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def needed_files(pack: str) -> tuple[str, ...]:
    return (LANDMARKS_FILE, RECOGNITION_FILE) + ((MMOD_FILE,) if DLIB_PACKS[pack] == "mmod" else ())


def missing_parts(pack: str, root: str | os.PathLike | None = None) -> list[str]:
    """What the pack lacks on this machine (empty when it can load): the dlib module, the model files."""
    missing = [] if importlib.util.find_spec("dlib") is not None else ["the dlib module"]
    folder = models_folder(root)
    if folder is None:
        return missing + ["the face_recognition_models package"]
    return missing + [str(folder / name) for name in needed_files(pack) if not (folder / name).is_file()]


def check_dlib_pack(pack: str, root: str | os.PathLike | None = None) -> Path:
    """The models folder, or ModelNotFoundError naming what is missing and how to install it."""
    missing = missing_parts(pack, root)
    if missing:
        raise ModelNotFoundError(f"face pack '{pack}' is not installed (missing {', '.join(missing)}): {INSTALL_HINT}"
                                 + (", or pass --face-root with the folder of its .dat files" if root is None else ""))
    return models_folder(root)


class DlibFaceAnalyzer:
    """The dlib pack loaded: finds faces and compares identities, as `FaceAnalyzer` does for insightface."""

    has_recognition = True

    def __init__(self, pack: str, folder: Path):
        import dlib

        self.pack = pack
        self.folder = folder
        self._dlib = dlib
        if DLIB_PACKS[pack] == "mmod":
            self._mmod = dlib.cnn_face_detection_model_v1(str(folder / MMOD_FILE))
            self._hog = None
        else:
            self._hog, self._mmod = dlib.get_frontal_face_detector(), None
        self._shape = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        self._recognizer = dlib.face_recognition_model_v1(str(folder / RECOGNITION_FILE))

    def detect(self, rgb: PIL.Image.Image) -> list[DetectedFace]:
        """Every face found, largest first, with five landmarks in insightface's order."""
        photo = np.ascontiguousarray(np.asarray(rgb.convert("RGB")))
        shrink = min(1.0, DETECTION_SIDE / max(photo.shape[:2]))
        small = photo if shrink == 1.0 else np.asarray(
            rgb.convert("RGB").resize((max(1, round(rgb.width * shrink)), max(1, round(rgb.height * shrink))),
                                      PIL.Image.Resampling.BILINEAR))
        found = []
        for rect, score in self._detections(np.ascontiguousarray(small)):
            box = tuple(value / shrink for value in (rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1))
            full_rect = self._dlib.rectangle(*(int(round(value)) for value in box))
            points = np.array([[p.x, p.y] for p in self._shape(photo, full_rect).parts()], dtype=np.float64)
            found.append((box, score, points))
        found.sort(key=lambda item: -(item[0][2] - item[0][0]) * (item[0][3] - item[0][1]))
        return [
            DetectedFace(index=index, box=box, score=score, landmarks=insightface_order(points), pack_points=points)
            for index, (box, score, points) in enumerate(found)
        ]

    def _detections(self, pixels: np.ndarray):
        if self._mmod is not None:
            return [(found.rect, float(found.confidence)) for found in self._mmod(pixels, UPSAMPLE["mmod"])
                    if found.confidence >= MMOD_THRESHOLD]
        rects, scores, _ = self._hog.run(pixels, UPSAMPLE["hog"], HOG_THRESHOLD)
        return [(rect, float(score)) for rect, score in zip(rects, scores)]

    def embedding(self, rgb: PIL.Image.Image, face: DetectedFace, scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
        """The 128-d embedding of `face` in `rgb`, aligned by dlib at its landmarks scaled by `scale`."""
        points = dlib_points(face) * np.asarray(scale, dtype=np.float64)
        box = np.asarray(face.box, dtype=np.float64) * np.tile(np.asarray(scale, dtype=np.float64), 2)
        dlib = self._dlib
        rect = dlib.rectangle(*(int(round(value)) for value in box))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in points])
        pixels = np.ascontiguousarray(np.asarray(rgb.convert("RGB")))
        return np.asarray(self._recognizer.compute_face_descriptor(pixels, shape), dtype=np.float64)

    def identity_similarity(self, image_a: PIL.Image.Image, image_b: PIL.Image.Image, face: DetectedFace) -> float:
        """1 - the embedding distance of `face` in `image_a` and the same place in `image_b`, in [-1, 1];
        the same person above 0.4. `face` was detected on `image_a`; its landmarks are reused on `image_b`."""
        scale = (image_b.width / image_a.width, image_b.height / image_a.height)
        return similarity_of_distance(float(np.linalg.norm(self.embedding(image_a, face) - self.embedding(image_b, face, scale))))


def similarity_of_distance(distance: float) -> float:
    return float(np.clip(1.0 - distance, -1.0, 1.0))


def load_dlib_analyzer(pack: str = "dlib", root: str | os.PathLike | None = None) -> DlibFaceAnalyzer:
    """Load the dlib pack (`dlib`: HOG detector; `dlib-mmod`: the CNN detector, slower, better on turned
    faces) from face_recognition_models, or from `root` holding its .dat files."""
    folder = check_dlib_pack(pack, root)
    try:
        return DlibFaceAnalyzer(pack, folder)
    except RuntimeError as error:  # dlib's own error for a file it cannot deserialize
        first_line = (str(error).strip().splitlines() or ["unreadable"])[0]
        raise ModelNotFoundError(f"face pack '{pack}' in {folder} could not be loaded ({first_line}): "
                                 f"the files may be damaged; reinstall: {INSTALL_HINT}") from error


def insightface_order(points: np.ndarray) -> np.ndarray:
    """dlib's five points as insightface's five (eye centres, nose, mouth corners, as seen in the image).

    dlib has no mouth points: they are placed where the ArcFace template puts them relative to the eyes
    and nose (a similarity fit). Only the eyes are read by the crop (its roll); the mouth corners are
    there so that any consumer of the five points gets a plausible face."""
    # scikit-image's least-squares similarity fit, as insightface's own alignment uses (a dependency of it).
    from skimage.transform import estimate_transform

    eyes_nose = np.stack([points[list(_IMAGE_LEFT_EYE)].mean(axis=0), points[list(_IMAGE_RIGHT_EYE)].mean(axis=0),
                          points[_NOSE_BOTTOM]])
    fit = estimate_transform("similarity", ARCFACE_TEMPLATE_112[[LEFT_EYE, RIGHT_EYE, NOSE]], eyes_nose)
    return np.vstack([eyes_nose, fit(ARCFACE_TEMPLATE_112[3:])])


def dlib_points(face: DetectedFace) -> np.ndarray:
    """The face's points in dlib's order: its own where the dlib pack found it, else made from the five
    (eye centres as both corners) for a face another detector found."""
    if face.pack_points is not None and len(face.pack_points) == 5:
        return np.asarray(face.pack_points, dtype=np.float64)
    five = alignment_landmarks(face).astype(np.float64)
    return np.stack([five[RIGHT_EYE], five[RIGHT_EYE], five[LEFT_EYE], five[LEFT_EYE], five[NOSE]])
