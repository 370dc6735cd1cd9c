"""load_image(): any supported input as upright 8-bit sRGB for the model, plus what restore() needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from freecure_edit.imageio.colour import ColourPlan, to_srgb
from freecure_edit.imageio.metadata import detached_exif, orientation_of, upright, upright_dpi, upright_xmp
from freecure_edit.imageio.opening import DEFAULT_MAX_PIXELS, ImageSource, decoded_image, one_line
from freecure_edit.imageio.pixels import to_eight_bit

# Chunks ImageMagick adds to PNGs as hex copies of EXIF/XMP/ICC: carrying them would keep a stale
# second orientation and profile next to the ones we write.
_STALE_TEXT_PREFIX = "Raw profile type"
_XMP_TEXT_KEY = "XML:com.adobe.xmp"


@dataclass(frozen=True, eq=False)
class LoadedImage:
    rgb: Image.Image  # "RGB", 8-bit, upright, sRGB: what the model sees
    alpha: Image.Image | None  # "L", upright
    source_mode: str
    icc_profile: bytes | None  # as embedded in the input
    exif: Image.Exif | None  # detached copy, orientation reset to 1
    path: Path | None
    warnings: list[str]
    format: str | None = None
    xmp: bytes | None = None  # orientation reset to 1
    dpi: tuple[float, float] | None = None  # upright
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks; a JPEG comment as "Comment"
    colour_plan: ColourPlan = field(default_factory=lambda: ColourPlan(output_gray=False, profile=None))
    # The upright 8-bit pixels in the source's own colour space, kept only when the plan converts
    # colours: restore() copies every pixel the cure left alone from here.
    source_colour: Image.Image | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.size

    def restore(self, cured_rgb: Image.Image) -> Image.Image:
        """The cured sRGB image back in the input's colour space, with its alpha: ready for save_image().

        Only the pixels that differ from `rgb` are converted back; all others are the input's own,
        byte for byte, whatever its ICC profile.

        The profile to embed travels as info["icc_profile"] of the returned image, so that it always
        describes the pixels it is attached to.
        """
        if cured_rgb.size != self.size:
            raise ValueError(
                f"restore() needs the cured image at the input's size {self.size}, got {cured_rgb.size}"
            )
        colour = self.colour_plan.apply_changes(cured_rgb.convert("RGB"), self.rgb, self.source_colour)
        if self.alpha is not None:
            colour = Image.merge(colour.mode + "A", (*colour.split(), self.alpha))
        colour.info = {"icc_profile": self.colour_plan.profile} if self.colour_plan.profile else {}
        return colour


def _exif_of(image: Image.Image, warnings: list[str]) -> Image.Exif | None:
    try:
        return image.getexif()
    except Exception as error:  # a broken EXIF block must not cost the user the photo
        warnings.append(f"unreadable EXIF metadata ignored ({one_line(error)})")
        return None


def _detached(exif: Image.Exif | None, warnings: list[str]) -> Image.Exif | None:
    if exif is None or not len(exif):
        return None
    try:
        return detached_exif(exif)
    except Exception as error:  # metadata is optional, the photo is not
        warnings.append(f"EXIF metadata could not be copied ({one_line(error)})")
        return None


def _text_of(image: Image.Image) -> dict[str, str]:
    if image.format == "PNG":
        chunks = getattr(image, "text", {})
        return {
            key: str(value)
            for key, value in chunks.items()
            if isinstance(value, str) and key != _XMP_TEXT_KEY and not key.startswith(_STALE_TEXT_PREFIX)
        }
    comment = image.info.get("comment")
    if isinstance(comment, bytes) and comment:
        return {"Comment": comment.decode("utf-8", errors="replace")}
    return {}


def _xmp_of(image: Image.Image) -> object:
    xmp = image.info.get("xmp")
    if xmp is None and image.format == "TIFF":
        xmp = getattr(image, "tag_v2", {}).get(700)
    return xmp


def load_image(source: ImageSource, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a path, raw bytes or an open PIL image; refuse bad input with a one-line InputImageError.

    `max_pixels` is checked against the header before any decoding; None disables it.
    """
    if max_pixels is not None and max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive or None, got {max_pixels}")
    with decoded_image(source, max_pixels) as decoded:
        image = decoded.image
        warnings: list[str] = list(decoded.notes)
        if decoded.frame_count_over_one:
            warnings.append("the image has several frames; only the first is used")
        exif = _exif_of(image, warnings)
        orientation = orientation_of(exif)
        icc = image.info.get("icc_profile") or None
        eight = to_eight_bit(upright(image, orientation), had_16_bit_channels=decoded.had_16_bit_channels)
        warnings.extend(eight.notes)
        rgb, plan, colour_notes = to_srgb(eight.colour, icc)
        warnings.extend(colour_notes)
        return LoadedImage(
            rgb=rgb,
            alpha=eight.alpha,
            source_mode=image.mode,
            icc_profile=icc,
            exif=_detached(exif, warnings),
            path=decoded.path,
            warnings=warnings,
            format=image.format,
            xmp=upright_xmp(_xmp_of(image)),
            dpi=upright_dpi(image.info.get("dpi"), orientation),
            text=_text_of(image),
            colour_plan=plan,
            source_colour=eight.colour if plan.from_srgb is not None else None,
        )
