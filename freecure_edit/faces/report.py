"""What `freecure-edit faces` says of each detected face, as data: where it is, how sure the detector
is, and whether its crop at the working size would be an upscale (a face too small to cure well)."""

from __future__ import annotations


def face_report(face, photo, crop_size: int) -> dict:
    """`face` (a DetectedFace of `photo`) as JSON-ready values."""
    from freecure_edit.faces import UPSCALE_WARNING, crop_face

    crop = crop_face(photo, face, size=crop_size)
    return {
        "index": face.index,
        "box": [round(value, 1) for value in face.box],
        "score": round(face.score, 4),
        "width": round(face.width, 1),
        "height": round(face.height, 1),
        "crop_scale": round(crop.scale, 3),
        "too_small": crop.scale > UPSCALE_WARNING,
        "warnings": list(crop.warnings),
    }
