"""Generation parameters stored in the output for reproducibility, and read back.

PNG: an iTXt chunk keyed PARAMETERS_KEY holding the parameters as JSON (iTXt is UTF-8, so prompts in
any language survive). JPEG and WebP have no free text field that survives editors as well as EXIF's
UserComment, so it holds {"freecure-edit": parameters} as ASCII JSON; the wrapper tells our comment
from a camera's. The JSON is ASCII-only so the comment's character-code prefix is unambiguous.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from PIL import ExifTags

from freecure_edit.errors import InputImageError
from freecure_edit.imageio.opening import identified_image, label_for

PARAMETERS_KEY = "freecure-edit"
_ASCII_CODE = b"ASCII\x00\x00\x00"
_UNICODE_CODE = b"UNICODE\x00"


def _jsonable(value: object) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy and torch scalars
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"generation parameter of type {type(value).__name__} cannot be stored as JSON")


def parameters_json(parameters: Mapping[str, Any]) -> str:
    return json.dumps(dict(parameters), sort_keys=True, ensure_ascii=True, default=_jsonable)


def user_comment_for(parameters: Mapping[str, Any]) -> bytes:
    return _ASCII_CODE + json.dumps({PARAMETERS_KEY: json.loads(parameters_json(parameters))},
                                    sort_keys=True, ensure_ascii=True).encode("ascii")


def _comment_text(comment: object) -> str | None:
    if isinstance(comment, str):
        return comment
    if not isinstance(comment, bytes):
        return None
    code, body = comment[:8], comment[8:]
    if code == _UNICODE_CODE:
        # The spec says the TIFF header's byte order; writers disagree, so let a BOM or the text decide.
        for encoding in ("utf-16", "utf-16-be", "utf-16-le"):
            try:
                text = body.decode(encoding)
            except UnicodeDecodeError:
                continue
            if text.lstrip().startswith("{"):
                return text
        return None
    return body.decode("utf-8", errors="replace") if code == _ASCII_CODE else None


def ours_in_user_comment(comment: object) -> dict[str, Any] | None:
    """Our parameters if `comment` (an EXIF UserComment value) holds them, else None."""
    text = _comment_text(comment)
    if text is None or PARAMETERS_KEY not in text:
        return None
    try:
        wrapper = json.loads(text.rstrip("\x00 "))
    except json.JSONDecodeError:
        return None
    found = wrapper.get(PARAMETERS_KEY) if isinstance(wrapper, dict) else None
    return found if isinstance(found, dict) else None


def _from_png_text(text: str, label: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        raise InputImageError(f"{label}: the stored {PARAMETERS_KEY} parameters are not valid JSON") from None
    if not isinstance(found, dict):
        raise InputImageError(f"{label}: the stored {PARAMETERS_KEY} parameters are not a JSON object")
    return found


def read_parameters(path: str | os.PathLike[str] | bytes) -> dict[str, Any] | None:
    """The generation parameters save_image() stored in `path` (a file or its bytes), or None."""
    label = label_for(path)
    with identified_image(path) as (image, _):
        # Our iTXt chunk is written before the image data, so the header read already has it.
        text = image.info.get(PARAMETERS_KEY)
        if isinstance(text, str):
            return _from_png_text(text, label)
        try:
            comment = image.getexif().get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.UserComment)
        except (OSError, SyntaxError, ValueError, KeyError, TypeError):
            return None  # unreadable EXIF holds nothing of ours
        return ours_in_user_comment(comment)

