"""The files of a batch: the images in a folder, optionally its subfolders, optionally filtered by
glob patterns; in an order that depends only on the names, so every process agrees on it."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

# What load_image can read; without --glob these are the files a batch takes.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"}
)


def select_inputs(
    folder: Path, *, recursive: bool = False, patterns: tuple[str, ...] = (), exclude: Path | None = None
) -> list[str]:
    """The inputs as POSIX paths relative to `folder`, sorted folder by folder.

    With `patterns`, a file is taken when its relative path matches one of them (matched from the
    right, so "*.jpg" matches at any depth and "portraits/*.jpg" only inside a portraits folder),
    without regard to case: "*.jpg" takes PHOTO.JPG, as cameras name files; without patterns, when
    its extension is an image's, in any case. Hidden files and folders are left out, and so is
    `exclude` (the output folder, when it lies inside the input folder).
    """
    excluded = os.path.realpath(exclude) if exclude is not None else None
    selected = []
    for current, folders, files in os.walk(folder):
        if excluded is not None:
            folders[:] = [name for name in folders if os.path.realpath(os.path.join(current, name)) != excluded]
        folders[:] = [name for name in folders if not name.startswith(".")] if recursive else []
        for name in files:
            path = Path(current, name)
            if name.startswith(".") or not path.is_file():
                continue
            relative = PurePosixPath(path.relative_to(folder).as_posix())
            if _wanted(relative, patterns):
                selected.append(relative)
    return [str(path) for path in sorted(selected, key=lambda path: path.parts)]


def _wanted(relative: PurePosixPath, patterns: tuple[str, ...]) -> bool:
    if patterns:
        # Python 3.11's PurePath.match has no case_sensitive argument: fold both sides instead.
        folded = PurePosixPath(str(relative).casefold())
        return any(folded.match(pattern.casefold()) for pattern in patterns)
    return relative.suffix.lower() in IMAGE_EXTENSIONS
