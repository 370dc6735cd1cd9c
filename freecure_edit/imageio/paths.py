"""Output paths: the format an extension asks for, the default name, and what may not be written over."""

from __future__ import annotations

import os
from pathlib import Path

from freecure_edit.errors import ConfigurationError
from freecure_edit.imageio.atomic import name_limit

OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def output_format_for(path: str | os.PathLike[str]) -> str:
    """The Pillow format name for `path`'s extension; call it early to refuse a bad name before any work."""
    text = os.fspath(path)
    if text.endswith((os.sep, "/")):
        raise ConfigurationError(f"{text}: names a folder; give a file name for the output")
    extension = Path(path).suffix.lower()
    try:
        return OUTPUT_FORMATS[extension]
    except KeyError:
        allowed = ", ".join(OUTPUT_FORMATS)
        shown = f'"{extension}"' if extension else "no extension"
        raise ConfigurationError(f"{os.fspath(path)}: cannot write {shown}; use one of {allowed}") from None


def default_output_path(
    input_path: str | os.PathLike[str], suffix: str = ".cured", ext: str = ".png"
) -> Path:
    """INPUT-stem + suffix + ext next to the input, e.g. photo.jpg -> photo.cured.png."""
    source = Path(input_path)
    extension = ext if ext.startswith(".") else f".{ext}"
    target = source.with_name(f"{source.stem}{suffix}{extension}")
    output_format_for(target)
    return target


def _same_file(a: Path, b: Path) -> bool:
    # samefile compares device and inode, so symlinks and hard links to the input are caught too.
    try:
        return os.path.samefile(a, b)
    except (OSError, AttributeError, NotImplementedError):
        return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(target: Path, input_path: Path | None, *, overwrite: bool) -> None:
    """Refuse, before encoding anything, an output that would land on the input or clobber a file."""
    shown = os.fspath(target)
    # First: a name the file system cannot hold makes every other look at the path fail.
    length, limit = len(os.fsencode(target.name)), name_limit(target.parent)
    if length > limit:
        raise ConfigurationError(f"{shown}: the file name is {length} bytes, over the {limit} its folder's file "
                                 "system takes; choose a shorter name")
    if target.is_dir():
        raise ConfigurationError(f"{shown}: is a directory; give a file name for the output")
    if not target.parent.is_dir():
        raise ConfigurationError(f"{shown}: the folder {os.fspath(target.parent)} does not exist")
    exists = os.path.lexists(target)
    if input_path is not None and exists and _same_file(target, input_path):
        raise ConfigurationError(f"{shown}: is the input image; choose another output path")
    if exists and not overwrite:
        raise ConfigurationError(f"{shown}: already exists; refusing to overwrite it (--overwrite replaces it)")
