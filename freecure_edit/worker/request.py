"""A cure request, checked field by field before anything is decoded or loaded.

    {"id": "r1", "prompt": "a woman with black curly hair",
     "input": "/photos/a.jpg" | "image_base64": "...",
     "mask": "/tmp/painted.png" | "mask_base64": "...",          (optional)
     "output": "/photos/a.cured.png", "return_base64": false,     (optional)
     "preview": false, "options": {"steps": 30, "strength": 0.8}}  (optional)

Unknown keys are refused rather than ignored: a misspelt "ouput" would otherwise silently write the
cure next to the input.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freecure_edit.errors import ConfigurationError, InputImageError

KNOWN_KEYS = ("type", "id", "prompt", "input", "image_base64", "mask", "mask_base64", "output", "return_base64",
              "preview", "options")


@dataclass(frozen=True)
class CureRequest:
    id: str | int
    prompt: str
    input_path: Path | None  # exactly one of input_path and image is set
    image: bytes | None
    mask_path: Path | None  # at most one of mask_path and mask is set
    mask: bytes | None
    output: Path | None
    return_base64: bool
    preview: bool
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> Path | bytes:
        return self.input_path if self.input_path is not None else self.image

    @property
    def mask_source(self) -> Path | bytes | None:
        return self.mask_path if self.mask_path is not None else self.mask

    @property
    def writes_file(self) -> bool:
        """An output path was given, or the input is a file and no base64 was asked for instead (then the
        cure goes next to the input, as `fix` does)."""
        return self.output is not None or (self.input_path is not None and not self.return_base64)

    @property
    def answers_base64(self) -> bool:
        """Asked for, or the only way back for an image that came as base64 with no output path."""
        return self.return_base64 or (self.input_path is None and self.output is None)


def cure_request(message: dict[str, Any]) -> CureRequest:
    unknown = sorted(set(message) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigurationError(f"unknown request field(s) {', '.join(unknown)}; a cure request may have "
                                 f"{', '.join(KNOWN_KEYS)}")
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
        raise ConfigurationError('a cure request needs an "id", text or an integer, for its reply to echo')
    prompt = _text(message, "prompt")
    if prompt is None or not prompt.strip():
        raise ConfigurationError('a cure request needs a "prompt"')
    input_path, image = _one_source(message, "input", "image_base64", required=True)
    mask_path, mask = _one_source(message, "mask", "mask_base64", required=False)
    output = _text(message, "output")
    options = message.get("options", {})
    if not isinstance(options, dict):
        raise ConfigurationError('"options" must be an object, like {"steps": 30}')
    return CureRequest(
        id=request_id, prompt=prompt, input_path=input_path, image=image, mask_path=mask_path, mask=mask,
        output=Path(output).expanduser() if output else None, return_base64=_flag(message, "return_base64"),
        preview=_flag(message, "preview"), options=options,
    )


def decoded_base64(text: str, key: str) -> bytes:
    """The bytes of a base64 field; a data URL ("data:image/png;base64,...") works too, as browsers and
    canvas-based editors produce them."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputImageError(f'"{key}" is not valid base64') from None
    if not data:
        raise InputImageError(f'"{key}" is empty')
    return data


def _one_source(message: dict[str, Any], path_key: str, base64_key: str, *, required: bool):
    path, encoded = _text(message, path_key), _text(message, base64_key)
    if path is not None and encoded is not None:
        raise ConfigurationError(f'give "{path_key}" or "{base64_key}", not both')
    if path is None and encoded is None:
        if required:
            raise ConfigurationError(f'a cure request needs "{path_key}" (a path) or "{base64_key}"')
        return None, None
    if path is not None:
        return Path(path).expanduser(), None
    return None, decoded_base64(encoded, base64_key)


def _text(message: dict[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f'"{key}" must be text')
    return value


def _flag(message: dict[str, Any], key: str) -> bool:
    value = message.get(key, False)
    if not isinstance(value, bool):
        raise ConfigurationError(f'"{key}" must be true or false')
    return value
