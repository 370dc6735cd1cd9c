"""What of the input's metadata an output may carry: one policy for `fix`, `batch`, the worker and the page.

- keep: everything the input had (EXIF, XMP, text chunks), as a photo editor's "save as" does;
- strip-private (the default): the facts about the picture (camera and lens model, exposure, dates,
  artist and copyright, description), never where it was taken (GPS), the camera's or lens's serial
  number, the camera owner's name, maker notes (vendors hide serials and places there), XMP, or text
  chunks of other tools. An allowlist: a tag nobody looked at is dropped, not carried;
- strip: nothing but what the pixels need to look right (the colour profile) and the print size (dpi);
  not even the prompt and settings of the cure.

Local paths of this machine are never written under any policy (output_files.shareable).
"""

from __future__ import annotations

import dataclasses

from PIL import ExifTags, Image

from freecure_edit.errors import ConfigurationError

METADATA_POLICIES = ("keep", "strip-private", "strip")
DEFAULT_METADATA = "strip-private"
METADATA_HELP = ("keep: all of the input's metadata; strip-private: camera, exposure, dates and copyright, "
                 "not GPS, serial numbers, owner, maker notes or XMP; strip: only the colour profile and dpi")

_Base = ExifTags.Base
# The main IFD: what the picture is and who made it. Orientation is reset to 1 elsewhere.
_PUBLIC_MAIN = frozenset({
    _Base.ImageDescription, _Base.Make, _Base.Model, _Base.Orientation, _Base.XResolution, _Base.YResolution,
    _Base.ResolutionUnit, _Base.Software, _Base.DateTime, _Base.Artist, _Base.Copyright, _Base.YCbCrPositioning,
})
# The Exif IFD: how it was exposed. Lens make and model, but not LensSerialNumber, BodySerialNumber,
# CameraOwnerName, ImageUniqueID (a per-shot id that links copies) or MakerNote.
_PUBLIC_EXIF = frozenset({
    _Base.ExposureTime, _Base.FNumber, _Base.ExposureProgram, _Base.ISOSpeedRatings, _Base.ExifVersion,
    _Base.DateTimeOriginal, _Base.DateTimeDigitized, _Base.OffsetTime, _Base.OffsetTimeOriginal,
    _Base.OffsetTimeDigitized, _Base.ShutterSpeedValue, _Base.ApertureValue, _Base.BrightnessValue,
    _Base.ExposureBiasValue, _Base.MaxApertureValue, _Base.MeteringMode, _Base.LightSource, _Base.Flash,
    _Base.FocalLength, _Base.ColorSpace, _Base.ExifImageWidth, _Base.ExifImageHeight, _Base.ExposureMode,
    _Base.WhiteBalance, _Base.FocalLengthIn35mmFilm, _Base.SceneCaptureType, _Base.LensSpecification,
    _Base.LensMake, _Base.LensModel, _Base.SensitivityType,
})
# PNG's registered keywords that describe the picture (PNG spec 11.3.4.2); "Source" (the device) and
# tool-specific keys, which can hold anything, are left out.
_PUBLIC_TEXT = frozenset({"Title", "Author", "Description", "Copyright", "Creation Time", "Software",
                          "Disclaimer", "Warning", "Comment"})


def check_metadata_policy(policy: str) -> str:
    if policy not in METADATA_POLICIES:
        raise ConfigurationError(f"metadata policy {policy!r} is not one of {', '.join(METADATA_POLICIES)}")
    return policy


def stores_parameters(policy: str) -> bool:
    """Whether an output written under `policy` stores the prompt and settings that made it."""
    return check_metadata_policy(policy) != "strip"


def filtered_source(source, policy: str):
    """`source` (a LoadedImage, or None) with only the metadata `policy` lets an output carry."""
    check_metadata_policy(policy)
    if source is None or policy == "keep":
        return source
    if policy == "strip":
        return dataclasses.replace(source, exif=None, xmp=None, text={})
    text = {key: value for key, value in source.text.items() if key in _PUBLIC_TEXT}
    return dataclasses.replace(source, exif=public_exif(source.exif), xmp=None, text=text)


def public_exif(exif: Image.Exif | None) -> Image.Exif | None:
    """A copy of `exif` with the allowlisted tags only (no GPS IFD, no interoperability IFD)."""
    if exif is None:
        return None
    kept = Image.Exif()
    for tag in _PUBLIC_MAIN & set(exif):
        kept[tag] = exif[tag]
    # get_ifd() returns the dict that tobytes() will write, so filling it in place is what is saved.
    source_sub = exif.get_ifd(ExifTags.IFD.Exif)
    if source_sub:
        sub = kept.get_ifd(ExifTags.IFD.Exif)
        for tag in _PUBLIC_EXIF & set(source_sub):
            sub[tag] = source_sub[tag]
    return kept if len(kept) or kept.get_ifd(ExifTags.IFD.Exif) else None
