"""The photos of an evaluation: every image of a folder (one per identity), or one photo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from freecure_edit.errors import InputImageError


@dataclass(frozen=True)
class EvalPhoto:
    path: Path
    name: str  # relative to the input folder: the key of its results
    slug: str  # a folder name for its images


def list_photos(source: Path) -> list[EvalPhoto]:
    """The images in `source` (a folder, not its subfolders, or one image file), by name."""
    from freecure_edit.batch.selection import IMAGE_EXTENSIONS, select_inputs

    source = Path(source)
    if source.is_file():
        if source.suffix.lower() not in IMAGE_EXTENSIONS:
            raise InputImageError(f"{source} is not an image file ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        names, folder = [source.name], source.parent
    elif source.is_dir():
        names, folder = select_inputs(source), source
    else:
        raise InputImageError(f"{source}: no such file or folder")
    if not names:
        raise InputImageError(f"{source} holds no image ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    slugs: set[str] = set()
    photos = []
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        while slug in slugs:
            slug += "_"
        slugs.add(slug)
        photos.append(EvalPhoto(folder / name, name, slug))
    return photos
