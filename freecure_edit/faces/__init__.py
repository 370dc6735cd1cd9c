"""Faces: detection and landmarks (insightface), upright crops, paste-back, identity similarity.

    analyzer = load_face_analyzer("buffalo_l")                  # ModelNotFoundError if not on disk
    faces = analyzer.detect(photo)                              # largest first
    for face in select_faces(faces, "all"):
        crop = crop_face(photo, face, size=512)                 # crop.warnings: resampling costs
        cured = ...                                             # edit crop.image, keep its geometry
        photo = paste_back(photo, cured, crop, mask, feather_px=8)
    analyzer.identity_similarity(original, photo, face)

insightface is imported only when a pack is loaded, so importing this package stays cheap.

May import errors.py and imageio/ only: never the method or a front end.
"""

from __future__ import annotations

from freecure_edit.faces.analyzer import FaceAnalyzer, load_face_analyzer
from freecure_edit.faces.crop import (
    DEFAULT_CROP_SIZE,
    DEFAULT_MARGIN,
    DOWNSCALE_WARNING,
    UPSCALE_WARNING,
    FaceCrop,
    crop_face,
)
from freecure_edit.faces.detected import DetectedFace
from freecure_edit.faces.packs import DEFAULT_PACK, KNOWN_PACKS, locate_pack
from freecure_edit.faces.paste import paste_back
from freecure_edit.faces.selection import select_faces

__all__ = [
    "DEFAULT_CROP_SIZE",
    "DEFAULT_MARGIN",
    "DEFAULT_PACK",
    "DOWNSCALE_WARNING",
    "KNOWN_PACKS",
    "UPSCALE_WARNING",
    "DetectedFace",
    "FaceAnalyzer",
    "FaceCrop",
    "crop_face",
    "load_face_analyzer",
    "locate_pack",
    "paste_back",
    "select_faces",
]
