"""Choosing which detected faces to cure."""

from __future__ import annotations

from collections.abc import Sequence

from freecure_edit.errors import ConfigurationError, InputImageError
from freecure_edit.faces.detected import DetectedFace

Which = str | int | Sequence[int]


def select_faces(faces: Sequence[DetectedFace], which: Which = "largest") -> list[DetectedFace]:
    """The faces to cure, in the order given.

    `which` is "largest" (the default: in a group photo the subject is usually the biggest face),
    "all", or face indices (0 is the largest). Repeated indices count once, so no face is pasted twice.
    No face at all is the user's problem to solve, not a crash: the error says how to go on without one.
    """
    if not faces:
        raise InputImageError(
            "no face found in the photo; use --no-detect to cure the whole image instead"
        )
    if isinstance(which, str):
        if which == "largest":
            return [max(faces, key=lambda face: face.area)]
        if which == "all":
            return list(faces)
        raise ConfigurationError(f"face selection {which!r} is not one of 'largest', 'all' or a list of indices")
    indices = [which] if isinstance(which, int) else list(which)
    if not indices:
        raise ConfigurationError("face selection is an empty list of indices; give at least one")
    by_index = {face.index: face for face in faces}
    chosen: list[DetectedFace] = []
    for index in indices:
        face = by_index.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
        if face is None:
            raise ConfigurationError(
                f"face index {index!r} is out of range: this photo has {len(faces)} face(s), "
                f"valid indices are {_describe(sorted(by_index))} (0 is the largest)"
            )
        if face not in chosen:
            chosen.append(face)
    return chosen


def _describe(indices: list[int]) -> str:
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}..{indices[-1]}"
    return ", ".join(str(index) for index in indices)
