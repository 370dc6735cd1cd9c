"""save_image(): encode by extension, carry the input's metadata as the policy allows, write atomically,
never over the input. encoded_image(): the same bytes in memory (the web page's download)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, PngImagePlugin

from freecure_edit.errors import ConfigurationError, FreeCureError
from freecure_edit.imageio.atomic import write_atomically
from freecure_edit.imageio.colour import gray_to_srgb, open_profile, profile_space, srgb_profile_bytes
from freecure_edit.imageio.loaded import LoadedImage
from freecure_edit.imageio.metadata import exif_for_output
from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA, filtered_source, stores_parameters
from freecure_edit.imageio.opening import one_line
from freecure_edit.imageio.parameters import (
    PARAMETERS_KEY,
    ours_in_user_comment,
    parameters_json,
    user_comment_for,
)
from freecure_edit.imageio.paths import check_output_path, output_format_for

_WRITABLE_MODES = {
    "PNG": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}),
    "JPEG": frozenset({"L", "RGB", "CMYK"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
}
_JPEG_MARKER_LIMIT = 65533  # bytes in one APPn/COM segment
_XMP_TEXT_KEY = "XML:com.adobe.xmp"


def _check_options(target: Path, image_format: str, quality: int, lossless: bool) -> None:
    shown = os.fspath(target)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ConfigurationError(f"{shown}: quality must be a whole number from 1 to 100, got {quality!r}")
    if lossless and image_format == "JPEG":
        raise ConfigurationError(f"{shown}: JPEG cannot be lossless; use .webp or .png")


def _fitted(image: Image.Image, image_format: str, target: Path) -> tuple[Image.Image, bytes | None]:
    """`image` in a mode `image_format` can hold, and the ICC profile that then describes it."""
    icc = image.info.get("icc_profile") or None
    if image.mode == "P" and image_format != "PNG":
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image_format == "JPEG" and image.mode in ("RGBA", "LA"):
        if image.getchannel("A").getextrema() != (255, 255):
            raise ConfigurationError(
                f"{os.fspath(target)}: JPEG cannot store the image's transparency; use .png or .webp"
            )
        image = image.convert(image.mode[:-1])  # fully opaque: nothing is lost
    if image_format == "WEBP" and image.mode in ("L", "LA"):
        # WebP has no gray mode; a gray profile cannot describe the RGB pixels that replace it.
        profile = open_profile(icc) if icc else None
        gray_profile = profile is not None and profile_space(profile) == "GRAY"
        rgb = gray_to_srgb(image.convert("L"), icc)
        image = Image.merge("RGBA", (*rgb.split(), image.getchannel("A"))) if image.mode == "LA" else rgb
        icc = srgb_profile_bytes() if gray_profile else icc
    if image.mode not in _WRITABLE_MODES[image_format]:
        raise ValueError(f"save_image() cannot write a {image.mode} image as {image_format}")
    return image, icc


def _png_info(source: LoadedImage | None, parameters: Mapping[str, Any] | None) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for key, value in (source.text if source else {}).items():
        if key != PARAMETERS_KEY:
            info.add_text(key, value)
    if source is not None and source.xmp:
        info.add_itxt(_XMP_TEXT_KEY, source.xmp.decode("utf-8", errors="replace"))
    if parameters is not None:
        info.add_itxt(PARAMETERS_KEY, parameters_json(parameters))
    return info


def _exif_bytes(
    image: Image.Image, image_format: str, source: LoadedImage | None, parameters: Mapping[str, Any] | None
) -> bytes:
    comment = user_comment_for(parameters) if parameters is not None and image_format != "PNG" else None
    exif = exif_for_output(
        source.exif if source else None,
        image.size,
        user_comment=comment,
        is_stale_comment=lambda value: ours_in_user_comment(value) is not None,
    )
    return exif.tobytes() if exif is not None else b""


def _check_jpeg_segments(target: Path, options: dict[str, Any]) -> None:
    for name in ("exif", "xmp", "comment"):
        value = options.get(name) or b""
        size = len(value.encode("utf-8") if isinstance(value, str) else value)
        if size > _JPEG_MARKER_LIMIT - 29:  # 29: the XMP namespace header, the largest overhead
            raise ConfigurationError(
                f"{os.fspath(target)}: the {name} metadata ({size} bytes) is too large for JPEG; use .png"
            )


def _encoder_options(
    image: Image.Image,
    image_format: str,
    icc: bytes | None,
    source: LoadedImage | None,
    parameters: Mapping[str, Any] | None,
    quality: int,
    lossless: bool,
) -> dict[str, Any]:
    exif = _exif_bytes(image, image_format, source, parameters)
    options: dict[str, Any] = {"icc_profile": icc, "exif": exif}
    xmp = source.xmp if source else None
    dpi = source.dpi if source else None
    comment = source.text.get("Comment", "") if source else ""
    if image_format == "PNG":
        options["pnginfo"] = _png_info(source, parameters)
        if dpi:
            options["dpi"] = dpi
    elif image_format == "JPEG":
        # 4:4:4 at high quality: 4:2:0 halves colour resolution, which blurs exactly the small
        # coloured details (irises, lips) the tool edits.
        options.update(quality=quality, optimize=True, xmp=xmp, comment=comment)
        if quality >= 90:
            options["subsampling"] = "4:4:4"
        if dpi:
            options["dpi"] = (round(dpi[0]), round(dpi[1]))
    else:
        # exact keeps the colour under fully transparent pixels, so lossless really is lossless.
        options.update(quality=quality, lossless=lossless, exact=lossless, xmp=xmp or b"")
    return options


def _encoder(image, image_format, target, source, parameters, quality, lossless, metadata):
    """The fitted image and its save() options, `source`'s metadata filtered by the `metadata` policy."""
    _check_options(target, image_format, quality, lossless)
    source = filtered_source(source, metadata)
    if not stores_parameters(metadata):
        parameters = None
    fitted, icc = _fitted(image, image_format, target)
    options = _encoder_options(fitted, image_format, icc, source, parameters, quality, lossless)
    if image_format == "JPEG":
        _check_jpeg_segments(target, options)
    return fitted, options


def encoded_image(
    image: Image.Image,
    name: str,
    *,
    source: LoadedImage | None = None,
    parameters: Mapping[str, Any] | None = None,
    quality: int = 95,
    metadata: str = DEFAULT_METADATA,
) -> bytes:
    """The bytes save_image() would write to a file called `name` (its extension picks the format)."""
    target = Path(name)
    image_format = output_format_for(target)
    fitted, options = _encoder(image, image_format, target, source, parameters, quality, False, metadata)
    buffer = io.BytesIO()
    fitted.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def save_image(
    image: Image.Image,
    out_path: str | os.PathLike[str],
    *,
    source: LoadedImage | None = None,
    parameters: Mapping[str, Any] | None = None,
    quality: int = 95,
    lossless: bool = False,
    overwrite: bool = False,
    metadata: str = DEFAULT_METADATA,
) -> Path:
    """Write `image` (as restore() returns it) to `out_path` in the format its extension names.

    `source` supplies the metadata to carry (EXIF, XMP, text, dpi), filtered by the `metadata` policy
    (imageio.metadata_policy), and the input path that must never be written; `parameters` are stored
    for read_parameters() unless the policy is "strip". The write is atomic: on failure the output is
    either absent or its previous content, and no temporary file is left.
    """
    target = Path(out_path)
    image_format = output_format_for(target)
    check_output_path(target, source.path if source else None, overwrite=overwrite)
    fitted, options = _encoder(image, image_format, target, source, parameters, quality, lossless, metadata)

    def encode(stream: BinaryIO) -> None:
        fitted.save(stream, format=image_format, **options)

    shown = os.fspath(target)
    try:
        write_atomically(target, encode, overwrite=overwrite)
    except FileExistsError:
        raise ConfigurationError(f"{shown}: already exists; refusing to overwrite it (--overwrite replaces it)") from None
    except OSError as error:
        raise FreeCureError(f"{shown}: cannot write it ({error.strerror or one_line(error)})") from None
    return target
