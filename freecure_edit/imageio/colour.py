"""ICC colour management: into sRGB for the model, and back to the source's profile for the output.

The choice for the output: cured pixels are converted back into the input's own RGB or gray profile
and that profile is embedded again. A photo editor expects an edited Adobe RGB or Display P3 photo to
come back in Adobe RGB or Display P3, looking the same in colour-managed viewers and fitting the rest
of the user's workflow, not silently re-tagged. Two exceptions: CMYK inputs come back as RGB tagged
sRGB, because PNG and WebP cannot hold CMYK and choosing a press separation is not ours to do; and a
profile we cannot use is dropped (with a warning), the output then being untagged, i.e. sRGB.

Profiles that behave as sRGB (within one level on a grid of test colours) are not converted at all,
so the common case costs no 8-bit round-trip error. Other profiles come back within one level, except
in the deepest shadows of gamma-2.2 spaces (below about 7% gray), where 8-bit sRGB has fewer codes and
a few levels are lost: the price of the model working in 8-bit sRGB.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageCms

_PROFILE_SPACE_FOR_MODE = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}
# Relative colorimetric with black-point compensation is the usual choice between RGB working spaces
# and undoes itself on the way back; press CMYK profiles carry perceptual tables made for leaving CMYK.
_RGB_INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
_RGB_FLAGS = ImageCms.Flags.BLACKPOINTCOMPENSATION
_CMYK_INTENT = ImageCms.Intent.PERCEPTUAL


# The ICC header's creation date (bytes 24-35) is set to this fixed moment: littleCMS stamps the current
# time, which would make two runs on the same input write different files.
_FIXED_PROFILE_DATE = bytes([0x07, 0xD0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])  # 2000-01-01 00:00:00


@lru_cache(maxsize=1)
def srgb_profile_bytes() -> bytes:
    generated = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return generated[:24] + _FIXED_PROFILE_DATE + generated[36:]


@lru_cache(maxsize=1)
def srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile_bytes()))


@dataclass(frozen=True)
class ColourPlan:
    """How cured sRGB pixels go back to the source's colour space, and which profile to embed."""

    output_gray: bool
    profile: bytes | None
    from_srgb: ImageCms.ImageCmsTransform | None = None

    def apply(self, rgb: Image.Image) -> Image.Image:
        if self.from_srgb is not None:
            return ImageCms.applyTransform(rgb, self.from_srgb)
        return rgb.convert("L" if self.output_gray else "RGB")

    def apply_changes(self, cured: Image.Image, model_rgb: Image.Image, source: Image.Image | None) -> Image.Image:
        """`cured` in the source's encoding, converting only the pixels the cure changed.

        `model_rgb` is what the cure started from (the source in sRGB) and `source` the source's own
        8-bit pixels. A pixel the cure left as it was is copied from `source`, byte for byte: a
        round trip through sRGB would clip wide-gamut colours and move others by a level or two.
        """
        if self.from_srgb is None or source is None:
            return self.apply(cured)
        out = source.copy()
        box = changed_box(cured, model_rgb)
        if box is None:
            return out
        after = np.asarray(cured.crop(box))
        changed = (after != np.asarray(model_rgb.crop(box))).any(axis=-1)
        # Only the changed pixels go through the transform, as one row.
        row = Image.fromarray(np.ascontiguousarray(after[changed])[None, :, :], "RGB")
        converted = np.asarray(ImageCms.applyTransform(row, self.from_srgb))[0]
        region = np.array(out.crop(box))
        region[changed] = converted
        out.paste(Image.fromarray(region, out.mode), box[:2])
        return out


# Rows compared at a time by changed_box: the comparison never holds more than a strip of the photo.
_STRIP_ROWS = 256


def changed_box(a: Image.Image, b: Image.Image) -> tuple[int, int, int, int] | None:
    """The bounding box (left, top, right, bottom) of the pixels where `a` and `b` differ, or None."""
    if a.size != b.size:
        raise ValueError(f"cannot compare images of sizes {a.size} and {b.size}")
    width, height = a.size
    left, top, right, bottom = width, None, 0, 0
    for y in range(0, height, _STRIP_ROWS):
        strip = (0, y, width, min(y + _STRIP_ROWS, height))
        box = ImageChops.difference(a.crop(strip), b.crop(strip)).getbbox()
        if box is None:
            continue
        left, right = min(left, box[0]), max(right, box[2])
        top = y + box[1] if top is None else top
        bottom = y + box[3]
    return None if top is None else (left, top, right, bottom)


def open_profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return None


def profile_space(profile: ImageCms.ImageCmsProfile) -> str:
    return profile.profile.xcolor_space.strip()


def profile_name(profile: ImageCms.ImageCmsProfile) -> str:
    try:
        return ImageCms.getProfileDescription(profile).strip() or "unnamed"
    except ImageCms.PyCMSError:
        return "unnamed"


def _behaves_as_srgb(to_srgb: ImageCms.ImageCmsTransform, mode: str) -> bool:
    levels = np.arange(0, 256, 17, dtype=np.uint8)
    if mode == "L":
        sample = Image.fromarray(levels[None, :])
        expected = np.repeat(levels[None, :, None], 3, axis=2)
    else:
        grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, -1, 3)
        sample = Image.fromarray(grid)
        expected = grid
    converted = np.asarray(ImageCms.applyTransform(sample, to_srgb), dtype=np.int16)
    return int(np.abs(converted - expected.astype(np.int16)).max()) <= 1


Converted = tuple[Image.Image, ColourPlan, list[str]]


def _untagged(colour: Image.Image) -> Converted:
    return colour.convert("RGB"), ColourPlan(output_gray=colour.mode == "L", profile=None), []


def _from_cmyk(colour: Image.Image, profile: ImageCms.ImageCmsProfile | None) -> Converted:
    plan = ColourPlan(output_gray=False, profile=srgb_profile_bytes())
    if profile is None:
        note = "CMYK input converted to RGB without a colour profile (colours are approximate)"
        return colour.convert("RGB"), plan, [f"{note}; the output is RGB"]
    transform = ImageCms.buildTransform(profile, srgb_profile(), "CMYK", "RGB", _CMYK_INTENT)
    note = f"CMYK input converted to sRGB with its profile ({profile_name(profile)})"
    return ImageCms.applyTransform(colour, transform), plan, [f"{note}; the output is RGB"]


def _through_profile(colour: Image.Image, icc: bytes, profile: ImageCms.ImageCmsProfile) -> Converted:
    mode = colour.mode
    plan = ColourPlan(output_gray=mode == "L", profile=icc)
    to = ImageCms.buildTransform(profile, srgb_profile(), mode, "RGB", _RGB_INTENT, _RGB_FLAGS)
    if _behaves_as_srgb(to, mode):
        return colour.convert("RGB"), plan, []
    back = ImageCms.buildTransform(srgb_profile(), profile, "RGB", mode, _RGB_INTENT, _RGB_FLAGS)
    note = f"colours converted from the embedded profile ({profile_name(profile)}) to sRGB and back"
    return ImageCms.applyTransform(colour, to), ColourPlan(plan.output_gray, icc, back), [note]


def _usable_profile(
    colour: Image.Image, icc: bytes | None, notes: list[str]
) -> ImageCms.ImageCmsProfile | None:
    if not icc:
        return None
    profile = open_profile(icc)
    if profile is None:
        notes.append("the embedded ICC profile is unreadable and was ignored (colours taken as sRGB)")
        return None
    if profile_space(profile) != _PROFILE_SPACE_FOR_MODE[colour.mode]:
        notes.append(
            f"the embedded ICC profile is for {profile_space(profile)} but the image is {colour.mode}; "
            "it was ignored (colours taken as sRGB)"
        )
        return None
    return profile


def to_srgb(colour: Image.Image, icc: bytes | None) -> Converted:
    """`colour` ("RGB", "L" or "CMYK") as 8-bit sRGB, the plan to undo that, and notes for the user."""
    notes: list[str] = []
    profile = _usable_profile(colour, icc, notes)
    try:
        if colour.mode == "CMYK":
            converted = _from_cmyk(colour, profile)
        elif profile is None or icc is None:
            converted = _untagged(colour)
        else:
            converted = _through_profile(colour, icc, profile)
    except ImageCms.PyCMSError as error:
        notes.append(f"the embedded ICC profile cannot be used ({error}); ignored (colours taken as sRGB)")
        converted = _from_cmyk(colour, None) if colour.mode == "CMYK" else _untagged(colour)
    rgb, plan, more_notes = converted
    return rgb, plan, notes + more_notes


def gray_to_srgb(gray: Image.Image, icc: bytes | None) -> Image.Image:
    """An "L" image as sRGB "RGB", through its gray profile when it has one (for formats without gray)."""
    profile = open_profile(icc) if icc else None
    if profile is None or profile_space(profile) != "GRAY":
        return gray.convert("RGB")
    transform = ImageCms.buildTransform(profile, srgb_profile(), "L", "RGB", _RGB_INTENT, _RGB_FLAGS)
    return ImageCms.applyTransform(gray, transform)
