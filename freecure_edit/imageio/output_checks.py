"""What must be known about an output before any model loads, and what its write failures mean.

- `check_writable(folder)`: a folder (or, for one still to be made, its nearest existing parent) takes
  new files; a read-only folder or file system is refused at once, not after the cure.
- `transparency_refusal(...)`: JPEG has no alpha channel. A photo with transparency is refused for a
  JPEG output rather than flattened: flattening would invent a background colour and change every
  transparent pixel, and the tool's promise is that pixels outside the cure stay the input's. PNG and
  WebP keep the alpha, so the message points there.
- `disk_full_cause(error)`: whether a failed write ran out of space (ENOSPC, or a quota: EDQUOT),
  which a batch must treat as the end of the run, not as one bad image.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import warnings
from pathlib import Path

from freecure_edit.errors import ConfigurationError
from freecure_edit.imageio.paths import output_format_for

# Output formats without an alpha channel.
_OPAQUE_FORMATS = frozenset({"JPEG"})
_NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_PROBE_PREFIX = ".freecure-probe-"


def nearest_existing(folder: Path) -> Path:
    """`folder`, or the closest of its parents that exists (where a missing folder would be made)."""
    current = Path(os.path.abspath(folder))
    while not current.exists() and current.parent != current:
        current = current.parent
    return current


def check_writable(folder: Path, what: str = "") -> None:
    """Refuse (ConfigurationError, exit 2) a folder where no file can be created: no permission, a
    read-only file system, or a file where the folder should be. A folder that does not exist yet is
    judged by the parent it would be made in.

    The test is to create and remove an empty file: permission bits alone say nothing to root, and
    nothing about a file system mounted read-only.
    """
    shown = f"{what} {os.fspath(folder)}".strip()
    existing = nearest_existing(folder)
    if not existing.is_dir():
        raise ConfigurationError(f"{shown}: {os.fspath(existing)} is a file, not a folder")
    try:
        descriptor, probe = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=existing)
    except OSError as error:
        reason = error.strerror or str(error)
        where = "" if existing == Path(os.path.abspath(folder)) else f" (in {os.fspath(existing)})"
        raise ConfigurationError(f"{shown}: cannot write there{where}: {reason}") from None
    os.close(descriptor)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def can_hold_transparency(target: str | os.PathLike[str]) -> bool:
    return output_format_for(target) not in _OPAQUE_FORMATS


def has_transparency(alpha) -> bool:
    """Whether an alpha channel (a PIL "L" image, or None) makes any pixel less than opaque."""
    return alpha is not None and alpha.getextrema() != (255, 255)


def transparency_refusal(alpha, target: str | os.PathLike[str], input_name: str, hint: str) -> str | None:
    """The one-line refusal when `target` cannot hold the transparency of the input, else None.
    `hint` says how to choose another format (".png or .webp", "--format png or webp")."""
    if can_hold_transparency(target) or not has_transparency(alpha):
        return None
    return (f"{os.fspath(target)}: {output_format_for(target)} cannot store the transparency of {input_name}; "
            f"use {hint} instead")


def check_transparency(alpha, target: Path, input_name: str, hint: str = ".png or .webp") -> None:
    refusal = transparency_refusal(alpha, target, input_name, hint)
    if refusal is not None:
        raise ConfigurationError(refusal)


def file_alpha(path: Path, max_pixels: int | None):
    """The alpha channel of the image file at `path` (None when it has none), read without decoding
    the colour of images that cannot carry alpha. None too when the file cannot be read or is over
    `max_pixels`: loading it will say why, in its turn."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if max_pixels is not None and image.width * image.height > max_pixels:
                    return None
                if not image.has_transparency_data:
                    return None
                return image.convert("RGBA").getchannel("A")
    except Exception:  # noqa: BLE001 - any unreadable file is load_image's to describe
        return None


def disk_full_cause(error: BaseException) -> OSError | None:
    """The out-of-space OSError behind `error` (itself, or its cause or context), if there is one."""
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE:
            return current
        current = current.__cause__ or current.__context__
    return None
