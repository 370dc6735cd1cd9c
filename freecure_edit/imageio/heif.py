"""HEIC/HEIF input (iPhone photos), through the optional pillow-heif package: `pip install 'freecure-edit[heif]'`.

Phones have saved HEIC by default for years, so a photo tool must at least say what to do with one.
pillow-heif bundles libheif and an HEVC decoder in its wheel and plugs into Pillow as one more format,
so the rest of the loader (EXIF, ICC, 8-bit reduction) is unchanged; libheif applies the file's
rotation and pillow-heif resets the EXIF orientation to 1, so nothing is rotated twice. It is an extra,
not a dependency: its wheel also carries the x265 encoder (GPL), which not every user wants. Without
it, HEIC files are refused with a one-line message naming the install and a way to convert.
"""

from __future__ import annotations

from functools import lru_cache
from typing import BinaryIO

HEIF_FORMAT = "HEIF"
HEIF_MISSING = (
    "HEIC/HEIF images need the optional pillow-heif package: pip install 'freecure-edit[heif]', "
    "or convert the photo to JPEG or PNG first (e.g. heif-convert photo.heic photo.jpg)"
)
# ISO base media "ftyp" brands of HEIF still images (HEVC-coded and the generic image brands).
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"})


def is_heif(stream: BinaryIO) -> bool:
    stream.seek(0)
    head = stream.read(32)
    stream.seek(0)
    if len(head) < 12 or head[4:8] != b"ftyp":
        return False
    brands = [head[8:12]] + [head[i:i + 4] for i in range(16, len(head) - 3, 4)]
    # AVIF shares the container (brand "avif" next to "mif1"): it is not HEVC, so not ours to open.
    return b"avif" not in brands and any(brand in _HEIF_BRANDS for brand in brands)


@lru_cache(maxsize=1)
def heif_support() -> bool:
    """True when pillow-heif is installed; registers its opener with Pillow the first time."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True
