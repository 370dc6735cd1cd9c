"""What --resume checks about the files behind an earlier `ok` line, cheapest check first.

- The input is keyed on its content: the line records the input's SHA-256 with its size and
  modification time. The same size and time are taken to mean the same file (the fast path, as rsync
  and make do); a file with another time is hashed, so that a copy or a `touch` keeps its result while
  a photo replaced under the same name is cured again.
- The output must still open: the line records its size and time as written. While they are unchanged
  the file is trusted; otherwise it is decoded, and a file truncated, emptied or no longer an image is
  made again.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def stamp(path: Path) -> dict[str, int]:
    """The size and modification time (ns) of a file."""
    status = os.stat(path)
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def input_record(path: Path) -> dict[str, Any] | None:
    """What a line records about its input (None when the file cannot be read: it fails anyway)."""
    try:
        before = stamp(path)
        return {"sha256": sha256_of(path), **before}
    except OSError:
        return None


def output_record(path: Path) -> dict[str, int] | None:
    try:
        return stamp(path)
    except OSError:
        return None


def _same_stamp(recorded: dict[str, Any], current: dict[str, int]) -> bool:
    return recorded.get("size") == current["size"] and recorded.get("mtime_ns") == current["mtime_ns"]


def same_input(recorded: Any, path: Path) -> bool:
    """Whether the file at `path` is the input an earlier line recorded (False without a record)."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
        return False
    try:
        current = stamp(path)
        if _same_stamp(recorded, current):
            return True
        if recorded.get("size") != current["size"]:
            return False
        return sha256_of(path) == recorded["sha256"]
    except OSError:
        return False


def opens_as_image(path: Path) -> bool:
    """Whether the file decodes as an image, all of it (a truncated file fails)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
    except Image.DecompressionBombError:
        return True  # an image too large to decode here has a valid header; the cure wrote it
    except Exception:  # noqa: BLE001 - whatever the decoder says, the output is not usable
        return False
    return True


def output_intact(recorded: Any, path: Path) -> bool:
    """Whether an earlier output is still there and usable: unchanged since it was written, or at
    least an image that opens."""
    try:
        current = stamp(path)
    except OSError:
        return False
    if not os.path.isfile(path):
        return False
    if isinstance(recorded, dict) and _same_stamp(recorded, current):
        return True
    return opens_as_image(path)
