"""From whatever the caller hands over to a decoded PIL image, or a one-line InputImageError.

Everything that can go wrong before there are pixels is caught here: missing files, directories,
empty files, non-images, unsupported formats, images over the pixel limit (refused from the header,
before any decoding) and truncated or corrupt data.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

from PIL import Image, ImageFile, UnidentifiedImageError

from freecure_edit.errors import InputImageError
from freecure_edit.imageio.heif import HEIF_FORMAT, HEIF_MISSING, heif_support, is_heif
from freecure_edit.imageio.jpeg_end import decode_missing_end_marker

# 100 MP: above every full-frame camera (61 MP) and the 1-inch/phone sensors users shoot with, while
# keeping the worst case bounded: 100 MP decodes to 300 MB as RGB, 400 MB as RGBA, and the 16-bit and
# float paths hold a float copy (up to 1.6 GB) for a moment. The model itself works at about 1 MP, so
# bigger inputs buy nothing; raise the limit explicitly for medium-format files (102-150 MP).
DEFAULT_MAX_PIXELS = 100_000_000

# Camera JPEGs that carry extra pictures (previews, depth maps) come back from the JPEG opener as
# format "MPO"; their first picture is the photo itself.
SUPPORTED_INPUT_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image]


def pixel_limit(max_pixels: int | None) -> int | None:
    """The limit load_image takes from a setting as the command line has it: None for the default, 0 for
    no limit."""
    return DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None)

# Names for a file whose signature is recognised but which Pillow could not open: "corrupt PNG" tells
# the user more than "not an image".
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)

# Per-channel 16-bit raw modes; Pillow decodes these to 8-bit RGB/RGBA/LA without saying so. BMP's
# "BGR;16" (5-6-5 packed) must not match, hence the byte-order suffix.
_SIXTEEN_BIT_RAWMODE = re.compile(r";16[BLN]?$")

_PIL_GLOBALS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Decoded:
    image: Image.Image
    label: str
    path: Path | None
    had_16_bit_channels: bool
    frame_count_over_one: bool
    notes: tuple[str, ...] = ()


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _filename_of(image: Image.Image) -> str:
    filename = getattr(image, "filename", "")
    return filename if isinstance(filename, str) else ""


def label_for(source: ImageSource) -> str:
    if isinstance(source, Image.Image):
        return _filename_of(source) or "the given image"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the given image bytes"
    return os.fspath(source)


@contextmanager
def pil_globals_for_guarded_decoding() -> Iterator[None]:
    """Hold Pillow's process-wide bomb limit and truncation leniency steady while we decode.

    Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that (179 MP by default) whatever
    limit the caller chose, and its exception is not what a user should read. We check the header
    size against the caller's limit ourselves, so Pillow's own check is off for the duration; and a
    truncated file must fail even if some other code set LOAD_TRUNCATED_IMAGES. The lock serialises
    our decodes; other threads decoding through Pillow directly meanwhile run without its guard.
    """
    with _PIL_GLOBALS_LOCK:
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS = None
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _check_regular_file(path: Path, label: str) -> None:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise InputImageError(f"{label}: no such file") from None
    except PermissionError:
        raise InputImageError(f"{label}: permission denied") from None
    except OSError as error:
        raise InputImageError(f"{label}: cannot read it ({error.strerror or one_line(error)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputImageError(f"{label}: is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        # Reading a FIFO or a device would block or never end.
        raise InputImageError(f"{label}: is not a regular file")
    if info.st_size == 0:
        raise InputImageError(f"{label}: the file is empty (0 bytes)")


def _open_for_reading(path: Path, label: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except PermissionError:
        raise InputImageError(f"{label}: permission denied") from None
    except OSError as error:
        raise InputImageError(f"{label}: cannot read it ({error.strerror or one_line(error)})") from None


def _signature_format(stream: BinaryIO) -> str | None:
    stream.seek(0)
    head = stream.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def _any_pillow_format(stream: BinaryIO) -> str | None:
    try:
        with Image.open(stream) as image:
            return image.format
    except Exception:  # identification only: anything Pillow cannot open is simply "not an image"
        return None


def _identify(stream: BinaryIO, label: str) -> ImageFile.ImageFile:
    heif = is_heif(stream)
    if heif and not heif_support():
        raise InputImageError(f"{label}: {HEIF_MISSING}")
    try:
        return Image.open(stream, formats=SUPPORTED_INPUT_FORMATS + (HEIF_FORMAT,) if heif else SUPPORTED_INPUT_FORMATS)
    except UnidentifiedImageError:
        pass
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, RuntimeError) as error:
        raise InputImageError(f"{label}: corrupt image header ({one_line(error)})") from None
    if heif:
        raise InputImageError(f"{label}: corrupt or unsupported HEIC/HEIF file")
    signature = _signature_format(stream)
    if signature is not None:
        raise InputImageError(f"{label}: corrupt or truncated {signature} file")
    other = _any_pillow_format(stream)
    if other is not None:
        readable = ", ".join(SUPPORTED_INPUT_FORMATS)
        raise InputImageError(f"{label}: {other} images are not supported (use {readable})")
    raise InputImageError(f"{label}: not an image file")


def check_pixel_limit(image: Image.Image, label: str, max_pixels: int | None) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise InputImageError(f"{label}: corrupt image header (size {width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        raise InputImageError(
            f"{label}: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the limit of "
            f"{max_pixels / 1e6:g} megapixels; refusing to decode it"
        )


def _declares_16_bit_channels(image: Image.Image) -> bool:
    for tile in getattr(image, "tile", None) or ():
        rawmode = tile.args if isinstance(tile.args, str) else (tile.args or ("",))[0]
        if isinstance(rawmode, str) and _SIXTEEN_BIT_RAWMODE.search(rawmode):
            return True
    return False


def _has_more_frames(image: Image.Image, label: str) -> bool:
    if image.format == "MPO":
        return False
    try:
        return bool(getattr(image, "is_animated", False))
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise InputImageError(f"{label}: corrupt image data ({one_line(error)})") from None


def _decode(image: Image.Image, label: str) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error, RuntimeError) as error:
        raise InputImageError(f"{label}: truncated or corrupt image data ({one_line(error)})") from None


def _without_end_marker(image: Image.Image) -> Image.Image | None:
    """The JPEG decoded again, when all it lacks is its end marker (see jpeg_end.py); else None."""
    stream = getattr(image, "fp", None)
    if image.format != "JPEG" or stream is None:
        return None
    try:
        stream.seek(0)
        data = stream.read()
    except (OSError, ValueError, AttributeError):
        return None
    return decode_missing_end_marker(data)


def _decoded_from(image: Image.Image, label: str, path: Path | None, max_pixels: int | None) -> Decoded:
    notes: tuple[str, ...] = ()
    with pil_globals_for_guarded_decoding():
        check_pixel_limit(image, label, max_pixels)
        sixteen_bit = _declares_16_bit_channels(image)
        more_frames = _has_more_frames(image, label)
        try:
            _decode(image, label)
        except InputImageError:
            repaired = _without_end_marker(image)
            if repaired is None:
                raise
            image = repaired
            notes = ("the JPEG file ends without its end-of-image marker, but all its image data is there; "
                     "decoded as it is",)
    return Decoded(image, label, path, sixteen_bit, more_frames, notes)


@contextmanager
def decoded_image(source: ImageSource, max_pixels: int | None) -> Iterator[Decoded]:
    """Decode the first frame of `source`; the image is valid inside the `with` block."""
    label = label_for(source)
    if isinstance(source, Image.Image):
        filename = _filename_of(source)
        yield _decoded_from(source, label, Path(filename) if filename else None, max_pixels)
        return
    with identified_image(source) as (image, path):
        yield _decoded_from(image, label, path, max_pixels)


@contextmanager
def identified_image(source: ImageSource) -> Iterator[tuple[ImageFile.ImageFile, Path | None]]:
    """Open `source` and read its header only: nothing is decoded, so no pixel limit applies yet."""
    label = label_for(source)
    path: Path | None = None
    if isinstance(source, Image.Image):
        raise TypeError("identified_image() takes a path or bytes, not an open image")
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise InputImageError(f"{label}: empty (0 bytes)")
        stream: BinaryIO = io.BytesIO(bytes(source))
    else:
        path = Path(os.fspath(source))
        _check_regular_file(path, label)
        stream = _open_for_reading(path, label)
    with stream:
        with pil_globals_for_guarded_decoding():
            image = _identify(stream, label)
        with image:
            yield image, path
