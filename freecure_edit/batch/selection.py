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
    folder: Path, *, recursive: bool = False, patterns: tuple[str, ...] = (), exclude: Path | None = None,
    skipped: list[str] | None = None,
) -> list[str]:
    """The inputs as POSIX paths relative to `folder`, sorted folder by folder.

    With `patterns`, a file is taken when its relative path matches one of them (matched from the
    right, so "*.jpg" matches at any depth and "portraits/*.jpg" only inside a portraits folder),
    without regard to case: "*.jpg" takes PHOTO.JPG, as cameras name files; without patterns, when
    its extension is an image's, in any case. Hidden files and folders are left out, and so is
    `exclude` (the output folder, when it lies inside the input folder).

    Links to folders are followed, each real folder once (a link back up the tree is a loop, not more
    photos); links to files are read as the files. `skipped` receives a line for each link left out
    and why: a broken one, or a folder already listed.
    """
    excluded = os.path.realpath(exclude) if exclude is not None else None
    seen_folders = {os.path.realpath(folder)}
    selected = []
    for current, folders, files in os.walk(folder, followlinks=True):
        if excluded is not None:
            folders[:] = [name for name in folders if os.path.realpath(os.path.join(current, name)) != excluded]
        folders[:] = [name for name in folders if not name.startswith(".")] if recursive else []
        kept = []
        for name in folders:
            real = os.path.realpath(os.path.join(current, name))
            if real in seen_folders:
                _note(skipped, folder, Path(current, name), "a link to a folder already listed (a loop, or a second link to it)")
            else:
                seen_folders.add(real)
                kept.append(name)
        folders[:] = kept
        for name in files:
            path = Path(current, name)
            if name.startswith("."):
                continue
            if not path.is_file():
                if path.is_symlink() and not path.exists():
                    _note(skipped, folder, path, "a broken link")
                continue
            relative = PurePosixPath(path.relative_to(folder).as_posix())
            if _wanted(relative, patterns):
                selected.append(relative)
    return [str(path) for path in sorted(selected, key=lambda path: path.parts)]


def _note(skipped: list[str] | None, folder: Path, path: Path, why: str) -> None:
    if skipped is not None:
        skipped.append(f"{path.relative_to(folder).as_posix()}: {why}")


def _wanted(relative: PurePosixPath, patterns: tuple[str, ...]) -> bool:
    if patterns:
        # Python 3.11's PurePath.match has no case_sensitive argument: fold both sides instead.
        folded = PurePosixPath(str(relative).casefold())
        return any(folded.match(pattern.casefold()) for pattern in patterns)
    return relative.suffix.lower() in IMAGE_EXTENSIONS
