"""EXIF orientation, and the metadata that travels from the input to the output.

Pixels are turned upright on load, so every copy of the orientation (EXIF and XMP) is reset to 1:
leaving the old value would make viewers rotate the already-upright output a second time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PIL import ExifTags, Image

ORIENTATION = ExifTags.Base.Orientation
_EXIF_IFD = ExifTags.IFD.Exif
_PIXEL_X_DIMENSION = ExifTags.Base.ExifImageWidth
_PIXEL_Y_DIMENSION = ExifTags.Base.ExifImageHeight
_USER_COMMENT = ExifTags.Base.UserComment

_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})

# TIFF inputs report their layout tags (strips, bit depth, compression, embedded ICC/XMP...) as EXIF.
# They describe the input file's encoding, not the photo, and would be false in any output.
_TIFF_LAYOUT_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 288, 289, 290, 291,
    292, 293, 317, 320, 322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 513, 514, 529, 530, 531, 532,
    700, 34377, 34675, 37724,
})

_XMP_ORIENTATION = (
    (re.compile(rb'(tiff:Orientation=")[0-9]+(")'), rb"\g<1>1\g<2>"),
    (re.compile(rb"(<tiff:Orientation>)[0-9]+(</tiff:Orientation>)"), rb"\g<1>1\g<2>"),
)


def orientation_of(exif: Image.Exif | None) -> int:
    value = exif.get(ORIENTATION, 1) if exif is not None else 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return image if method is None else image.transpose(method)


def upright_dpi(dpi: object, orientation: int) -> tuple[float, float] | None:
    if not (isinstance(dpi, tuple) and len(dpi) == 2 and all(isinstance(v, (int, float)) for v in dpi)):
        return None
    return (dpi[1], dpi[0]) if orientation in _SWAPS_AXES else (dpi[0], dpi[1])


def detached_exif(exif: Image.Exif) -> Image.Exif | None:
    """A copy that no longer reads from the input file, without layout tags, orientation reset to 1."""
    copy = Image.Exif()
    copy.load(exif.tobytes())
    for tag in _TIFF_LAYOUT_TAGS & set(copy):
        del copy[tag]
    if ORIENTATION in copy:
        copy[ORIENTATION] = 1
    return copy if len(copy) or copy.get_ifd(_EXIF_IFD) else None


def upright_xmp(xmp: object) -> bytes | None:
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if not isinstance(xmp, bytes) or not xmp:
        return None
    for pattern, replacement in _XMP_ORIENTATION:
        xmp = pattern.sub(replacement, xmp)
    return xmp


def exif_for_output(
    source: Image.Exif | None,
    size: tuple[int, int],
    *,
    user_comment: bytes | None,
    is_stale_comment: Callable[[object], bool],
) -> Image.Exif | None:
    """The EXIF to write: the source's, sized to the output, carrying `user_comment` when given.

    The thumbnail (IFD1) is not carried: Pillow does not write it, and it would show the uncured photo.
    A UserComment for which `is_stale_comment` holds (parameters of an earlier run) is dropped.
    """
    exif = Image.Exif()
    if source is not None:
        exif.load(source.tobytes())
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1
    if _EXIF_IFD not in exif and user_comment is None:
        return exif if len(exif) else None
    # get_ifd() keeps the dict it returns, and tobytes() writes it, so edits in place are saved.
    sub = exif.get_ifd(_EXIF_IFD)
    for tag, value in ((_PIXEL_X_DIMENSION, size[0]), (_PIXEL_Y_DIMENSION, size[1])):
        if tag in sub:
            sub[tag] = value
    if _USER_COMMENT in sub and is_stale_comment(sub[_USER_COMMENT]):
        del sub[_USER_COMMENT]
    if user_comment is not None:
        sub[_USER_COMMENT] = user_comment
    return exif
