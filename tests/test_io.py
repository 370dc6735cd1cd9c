"""freecure_edit.imageio: every input a photo editor meets, every refusal, and the safety of the output.

The base picture is scikit-image's astronaut portrait; its variants are made here and written to
tmp_path. ICC profiles other than sRGB are built byte by byte (LittleCMS via Pillow can only create
sRGB/LAB/XYZ), so the colour-managed path is exercised with a real wide-gamut, matrix-shaper profile.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import skimage
from PIL import ExifTags, Image, ImageCms, ImageFile, JpegImagePlugin

from freecure_edit.errors import ConfigurationError, FreeCureError, InputImageError
from freecure_edit.imageio.colour import srgb_profile_bytes
from freecure_edit.imageio import (
    LoadedImage,
    default_output_path,
    load_image,
    output_format_for,
    read_parameters,
    save_image,
)

ASTRONAUT_PATH = Path(skimage.__file__).parent / "data" / "astronaut.png"
ORIENTATION = ExifTags.Base.Orientation


# ---------------------------------------------------------------- helpers


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def _max_difference(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(_pixels(a) - _pixels(b)).max())


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(_pixels(a) - _pixels(b)).mean())


def _save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def _refusal(source, **kwargs) -> str:
    with pytest.raises(InputImageError) as caught:
        load_image(source, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _s15_fixed16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15_fixed16(x) + _s15_fixed16(y) + _s15_fixed16(z)


def _gamma_tag(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def _description_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 78


def _icc_profile(colour_space: bytes, tags: dict[bytes, bytes]) -> bytes:
    """A minimal ICC v2 display profile: 128-byte header, tag table, tags."""
    table_end = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags.items():
        table += struct.pack(">4sII", signature, table_end + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    header = (
        struct.pack(">I4s", table_end + len(data), b"lcms")
        + struct.pack(">I4s4s4s", 0x02100000, b"mntr", colour_space, b"XYZ ")
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + _xyz_tag(0.9642, 1.0, 0.8249)[8:]
        + b"\0" * 48
    )
    return header + struct.pack(">I", len(tags)) + table + data


D50 = _xyz_tag(0.9642, 1.0, 0.8249)
# Adobe RGB (1998) primaries adapted to D50, gamma 2.2: wider than sRGB in the greens and cyans.
ADOBE_LIKE_RGB = _icc_profile(
    b"RGB ",
    {
        b"desc": _description_tag("Adobe-like RGB"),
        b"wtpt": D50,
        b"rXYZ": _xyz_tag(0.60974, 0.31111, 0.01947),
        b"gXYZ": _xyz_tag(0.20528, 0.62567, 0.06087),
        b"bXYZ": _xyz_tag(0.14919, 0.06322, 0.74457),
        b"rTRC": _gamma_tag(2.2),
        b"gTRC": _gamma_tag(2.2),
        b"bTRC": _gamma_tag(2.2),
    },
)
GRAY_GAMMA_22 = _icc_profile(
    b"GRAY", {b"desc": _description_tag("Gray 2.2"), b"wtpt": D50, b"kTRC": _gamma_tag(2.2)}
)
SRGB = srgb_profile_bytes()
SRGB_LINEAR_TO_XYZ_D50 = np.array(
    [[0.4360747, 0.3850649, 0.1430804], [0.2225045, 0.7168786, 0.0606169], [0.0139322, 0.0971045, 0.7141733]]
)


def _toy_cmyk_linear_rgb(cmyk: np.ndarray) -> np.ndarray:
    """The toy press: each ink and black multiply the light of one linear sRGB channel."""
    c, m, y, k = np.moveaxis(cmyk, -1, 0)
    return np.stack([(1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k)], axis=-1)


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return 255 * np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def _cmyk_to_xyz_table(points: int = 9) -> bytes:
    """An ICC lut16 (A2B0) sampling the toy press on a 9^4 grid, to XYZ in u1Fixed15."""
    axis = np.linspace(0.0, 1.0, points)
    grid = np.stack(np.meshgrid(axis, axis, axis, axis, indexing="ij"), axis=-1)  # C varies slowest
    xyz = np.rint(_toy_cmyk_linear_rgb(grid) @ SRGB_LINEAR_TO_XYZ_D50.T * 32768).astype(">u2")
    identity_matrix = b"".join(_s15_fixed16(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    linear_curves = struct.pack(">HH", 2, 2) + struct.pack(">8H", *([0, 65535] * 4))
    return (
        b"mft2\0\0\0\0"
        + struct.pack(">BBBB", 4, 3, points, 0)
        + identity_matrix
        + linear_curves
        + xyz.tobytes()
        + struct.pack(">6H", *([0, 65535] * 3))
    )


TOY_CMYK = _icc_profile(
    b"CMYK", {b"desc": _description_tag("Toy CMYK"), b"wtpt": D50, b"A2B0": _cmyk_to_xyz_table()}
)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    with Image.open(ASTRONAUT_PATH) as image:
        return image.convert("RGB")


@pytest.fixture(scope="module")
def small(astronaut: Image.Image) -> Image.Image:
    # Non-square, so that a wrongly applied 90-degree rotation changes the size.
    return astronaut.crop((180, 40, 340, 160))


# ---------------------------------------------------------------- the real portrait


def test_the_real_portrait_loads_as_upright_srgb_with_its_metadata() -> None:
    img = load_image(ASTRONAUT_PATH)
    with Image.open(ASTRONAUT_PATH) as raw:
        raw_icc = raw.info["icc_profile"]
        assert _max_difference(img.rgb, raw.convert("RGB")) == 0  # its profile is sRGB: no conversion
    assert isinstance(img, LoadedImage)
    assert (img.rgb.mode, img.size, img.alpha, img.source_mode) == ("RGB", (512, 512), None, "RGB")
    assert img.icc_profile == raw_icc
    assert img.path == ASTRONAUT_PATH
    assert img.warnings == []
    assert img.text["Comment"].startswith("File written by Adobe Photoshop")


def test_bytes_and_open_images_are_accepted_and_left_untouched(astronaut: Image.Image) -> None:
    from_bytes = load_image(ASTRONAUT_PATH.read_bytes())
    assert from_bytes.path is None and _max_difference(from_bytes.rgb, astronaut) == 0

    given = astronaut.copy()
    before = given.tobytes()
    from_image = load_image(given)
    from_image.rgb.paste((255, 0, 0), (0, 0, 50, 50))
    assert given.tobytes() == before
    assert from_image.rgb is not given

    with Image.open(ASTRONAUT_PATH) as opened:
        assert load_image(opened).path == ASTRONAUT_PATH


# ---------------------------------------------------------------- EXIF orientation

# Where each orientation stores the upright picture, written from the EXIF definition of where the
# stored 0th row and 0th column lie, independently of the loader's transpose table.
STORED_FROM_UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # 0th row top, 0th column right
    3: lambda a: np.rot90(a, 2),  # bottom, right
    4: lambda a: a[::-1],  # bottom, left
    5: lambda a: a.transpose(1, 0, 2),  # left, top
    6: lambda a: np.rot90(a, 1),  # right, top: displayed by turning 90 degrees clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),  # right, bottom
    8: lambda a: np.rot90(a, -1),  # left, bottom
}


def _oriented(upright: Image.Image, orientation: int, path: Path, **options) -> Path:
    stored = Image.fromarray(np.ascontiguousarray(STORED_FROM_UPRIGHT[orientation](np.asarray(upright))))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[ExifTags.Base.Make] = "TestCam"
    return _save(stored, path, exif=exif, **options)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_exactly(
    small: Image.Image, tmp_path: Path, orientation: int
) -> None:
    img = load_image(_oriented(small, orientation, tmp_path / "oriented.png"))
    assert img.size == small.size
    assert _max_difference(img.rgb, small) == 0
    assert img.exif[ORIENTATION] == 1
    assert img.exif[ExifTags.Base.Make] == "TestCam"


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_rotated_jpeg_is_written_upright_with_orientation_reset(
    small: Image.Image, tmp_path: Path, orientation: int
) -> None:
    img = load_image(_oriented(small, orientation, tmp_path / "oriented.jpg", quality=95))
    assert _mean_difference(img.rgb, small) < 3
    for extension in (".jpg", ".png", ".webp"):
        out = save_image(img.restore(img.rgb), tmp_path / f"out{extension}", source=img)
        with Image.open(out) as written:  # read raw: no orientation applied
            assert written.size == small.size
            assert _mean_difference(written.convert("RGB"), small) < 4
            assert written.getexif()[ORIENTATION] == 1
            assert written.getexif()[ExifTags.Base.Make] == "TestCam"


def test_xmp_orientation_is_reset_too(small: Image.Image, tmp_path: Path) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    path = _oriented(small, 6, tmp_path / "xmp.jpg", xmp=xmp)
    img = load_image(path)
    assert b'tiff:Orientation="1"' in img.xmp
    out = save_image(img.restore(img.rgb), tmp_path / "out.jpg", source=img, metadata="keep")
    with Image.open(out) as written:
        assert b'tiff:Orientation="1"' in written.info["xmp"]


# ---------------------------------------------------------------- modes


def _with_alpha(image: Image.Image) -> Image.Image:
    ramp = np.tile(np.linspace(0, 255, image.width).astype(np.uint8), (image.height, 1))
    return Image.merge("RGBA", (*image.split(), Image.fromarray(ramp)))


def test_rgba_alpha_round_trips_exactly_in_png(small: Image.Image, tmp_path: Path) -> None:
    rgba = _with_alpha(small)
    img = load_image(_save(rgba, tmp_path / "rgba.png"))
    assert img.rgb.mode == "RGB" and img.alpha.mode == "L"
    assert _max_difference(img.alpha, rgba.getchannel("A")) == 0
    out = save_image(img.restore(img.rgb), tmp_path / "out.png", source=img)
    with Image.open(out) as written:
        assert written.mode == "RGBA"
        assert written.tobytes() == rgba.tobytes()


def test_rgba_round_trips_exactly_in_lossless_webp(small: Image.Image, tmp_path: Path) -> None:
    rgba = _with_alpha(small)
    img = load_image(_save(rgba, tmp_path / "rgba.png"))
    out = save_image(img.restore(img.rgb), tmp_path / "out.webp", source=img, lossless=True)
    with Image.open(out) as written:
        assert written.mode == "RGBA" and written.tobytes() == rgba.tobytes()


def test_jpeg_refuses_transparency_but_drops_an_opaque_alpha(small: Image.Image, tmp_path: Path) -> None:
    img = load_image(_save(_with_alpha(small), tmp_path / "rgba.png"))
    with pytest.raises(ConfigurationError, match="transparency"):
        save_image(img.restore(img.rgb), tmp_path / "out.jpg", source=img)
    assert not (tmp_path / "out.jpg").exists()

    opaque = load_image(_save(small.convert("RGBA"), tmp_path / "opaque.png"))
    out = save_image(opaque.restore(opaque.rgb), tmp_path / "opaque.jpg", source=opaque)
    with Image.open(out) as written:
        assert written.mode == "RGB"


def test_cmyk_jpeg_becomes_rgb_tagged_srgb(small: Image.Image, tmp_path: Path) -> None:
    img = load_image(_save(small.convert("CMYK"), tmp_path / "cmyk.jpg", quality=95))
    assert img.source_mode == "CMYK" and img.rgb.mode == "RGB"
    assert _mean_difference(img.rgb, small) < 4
    assert any("CMYK" in warning for warning in img.warnings)
    restored = img.restore(img.rgb)
    assert restored.mode == "RGB" and restored.info["icc_profile"] == SRGB
    out = save_image(restored, tmp_path / "out.jpg", source=img)
    with Image.open(out) as written:
        assert written.mode == "RGB" and written.info["icc_profile"] == SRGB


def test_cmyk_with_a_profile_is_converted_through_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cmyk = rng.integers(0, 256, size=(40, 50, 4), dtype=np.uint8)
    image = Image.frombytes("CMYK", (50, 40), cmyk.tobytes())
    img = load_image(_save(image, tmp_path / "cmyk.tif", icc_profile=TOY_CMYK))
    expected = _srgb_encode(_toy_cmyk_linear_rgb(cmyk / 255.0))
    error = np.abs(np.asarray(img.rgb) - expected)
    # The profile is sampled on a 9-point grid, so interpolation costs a little, mostly near black.
    assert error.mean() < 2.0
    assert any("Toy CMYK" in warning for warning in img.warnings)
    assert img.restore(img.rgb).info["icc_profile"] == SRGB


def test_16_bit_grayscale_png_is_scaled_not_clipped(small: Image.Image, tmp_path: Path) -> None:
    gray8 = np.asarray(small.convert("L"))
    gray16 = Image.fromarray(gray8.astype(np.uint16) * 257)
    img = load_image(_save(gray16, tmp_path / "gray16.png"))
    assert img.source_mode == "I;16"
    rgb = np.asarray(img.rgb)
    assert (rgb == gray8[..., None]).all()
    assert "16-bit input reduced to 8-bit" in img.warnings
    restored = img.restore(img.rgb)
    assert restored.mode == "L" and np.array_equal(np.asarray(restored), gray8)


def test_16_bit_rgb_png_warns_that_it_was_reduced(tmp_path: Path) -> None:
    values = np.array([[[65535, 32768, 0], [257, 0, 65535]]], dtype=">u2")
    rows = b"\0" + values.tobytes()
    img = load_image(_png(2, 1, 16, 2, rows))
    assert img.source_mode == "RGB"
    assert "16-bit input reduced to 8-bit" in img.warnings
    assert np.asarray(img.rgb).tolist() == [[[255, 128, 0], [1, 0, 255]]]


def test_palette_png_with_and_without_transparency(small: Image.Image, tmp_path: Path) -> None:
    palette = small.quantize(64)
    img = load_image(_save(palette, tmp_path / "palette.png"))
    assert img.source_mode == "P" and img.alpha is None
    assert _max_difference(img.rgb, palette.convert("RGB")) == 0
    assert "palette image converted to RGB" in img.warnings
    assert img.restore(img.rgb).mode == "RGB"

    palette.info["transparency"] = 0
    transparent = load_image(_save(palette, tmp_path / "transparent.png", transparency=0))
    expected_alpha = np.where(np.asarray(palette) == 0, 0, 255)
    assert np.array_equal(np.asarray(transparent.alpha), expected_alpha)
    assert transparent.restore(transparent.rgb).mode == "RGBA"


def test_grayscale_round_trips_as_grayscale(small: Image.Image, tmp_path: Path) -> None:
    gray = small.convert("L")
    img = load_image(_save(gray, tmp_path / "gray.png"))
    assert img.source_mode == "L" and img.rgb.mode == "RGB"
    restored = img.restore(img.rgb)
    assert restored.mode == "L" and restored.tobytes() == gray.tobytes()


def test_float_tiff_in_0_to_1_is_scaled_to_8_bit(small: Image.Image, tmp_path: Path) -> None:
    gray8 = np.asarray(small.convert("L"))
    floats = Image.fromarray(gray8.astype(np.float32) / 255.0)
    img = load_image(_save(floats, tmp_path / "float.tif"))
    assert img.source_mode == "F"
    assert int(np.abs(np.asarray(img.rgb)[..., 0].astype(int) - gray8).max()) == 0
    assert any("floating-point" in warning for warning in img.warnings)
    assert img.restore(img.rgb).mode == "L"


def test_tiff_layout_tags_do_not_leak_into_the_output_exif(small: Image.Image, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Scanner"
    img = load_image(_save(small, tmp_path / "scan.tif", exif=exif))
    out = save_image(img.restore(img.rgb), tmp_path / "out.png", source=img)
    with Image.open(out) as written:
        tags = written.getexif()
        assert tags[ExifTags.Base.Make] == "Scanner"
        for layout in (ExifTags.Base.StripOffsets, ExifTags.Base.BitsPerSample, ExifTags.Base.ImageWidth):
            assert layout not in tags


def test_only_the_first_frame_of_an_animation_is_used(small: Image.Image, tmp_path: Path) -> None:
    frames = [small.quantize(32), small.transpose(Image.Transpose.ROTATE_180).quantize(32)]
    path = tmp_path / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    img = load_image(path)
    assert _max_difference(img.rgb, frames[0].convert("RGB")) == 0
    assert any("first" in warning for warning in img.warnings)


def test_float_tiff_out_of_range_and_nan_is_stretched(tmp_path: Path) -> None:
    values = np.array([[-10.0, 0.0, 990.0, np.nan]], dtype=np.float32)
    img = load_image(_save(Image.fromarray(values), tmp_path / "wide.tif"))
    assert np.asarray(img.rgb)[0, :, 0].tolist() == [0, 3, 255, 3]
    assert any("NaN" in warning for warning in img.warnings)
    assert any("stretched" in warning for warning in img.warnings)


def test_tiny_one_pixel_image_round_trips(tmp_path: Path) -> None:
    pixel = Image.new("RGB", (1, 1), (12, 34, 56))
    for extension in (".png", ".jpg", ".webp"):
        img = load_image(_save(pixel, tmp_path / f"tiny{extension}"))
        assert img.size == (1, 1)
        out = save_image(img.restore(img.rgb), tmp_path / f"out{extension}", source=img)
        with Image.open(out) as written:
            assert written.size == (1, 1)


# ---------------------------------------------------------------- ICC profiles


def test_srgb_profile_is_kept_and_pixels_are_untouched(small: Image.Image, tmp_path: Path) -> None:
    img = load_image(_save(small, tmp_path / "srgb.png", icc_profile=SRGB))
    assert img.icc_profile == SRGB
    assert _max_difference(img.rgb, small) == 0
    restored = img.restore(img.rgb)
    assert restored.info["icc_profile"] == SRGB
    for extension in (".png", ".jpg", ".webp"):
        with Image.open(save_image(restored, tmp_path / f"out{extension}", source=img)) as written:
            assert written.info["icc_profile"] == SRGB


def test_wide_gamut_profile_is_converted_to_srgb_and_back(small: Image.Image, tmp_path: Path) -> None:
    # Half-way to gray keeps every colour inside sRGB, so the round trip has nothing to clip.
    muted = Image.blend(small, Image.new("RGB", small.size, (128, 128, 128)), 0.5)
    img = load_image(_save(muted, tmp_path / "adobe.png", icc_profile=ADOBE_LIKE_RGB))
    assert img.icc_profile == ADOBE_LIKE_RGB
    assert _mean_difference(img.rgb, muted) > 1.0  # really converted
    assert any("Adobe-like RGB" in warning for warning in img.warnings)

    restored = img.restore(img.rgb)
    assert restored.info["icc_profile"] == ADOBE_LIKE_RGB
    assert _max_difference(restored, muted) <= 2
    with Image.open(save_image(restored, tmp_path / "out.png", source=img)) as written:
        assert written.info["icc_profile"] == ADOBE_LIKE_RGB


def test_wide_gamut_green_is_more_saturated_in_srgb(tmp_path: Path) -> None:
    # (50, 200, 50) in Adobe RGB lies outside sRGB: its sRGB red and blue must drop, its green not.
    patch = Image.new("RGB", (4, 4), (50, 200, 50))
    img = load_image(_save(patch, tmp_path / "green.png", icc_profile=ADOBE_LIKE_RGB))
    red, green, blue = (int(v) for v in np.asarray(img.rgb)[0, 0])
    assert red < 25 and blue < 30 and green >= 195


def test_gray_profile_round_trips_and_webp_gets_srgb(small: Image.Image, tmp_path: Path) -> None:
    gray = small.convert("L")
    img = load_image(_save(gray, tmp_path / "gray.png", icc_profile=GRAY_GAMMA_22))
    assert _mean_difference(img.rgb.convert("L"), gray) > 1.0  # gamma 2.2 is not the sRGB curve
    restored = img.restore(img.rgb)
    assert restored.mode == "L" and restored.info["icc_profile"] == GRAY_GAMMA_22
    # 8-bit sRGB has fewer codes than gamma 2.2 below about 7% gray, so the deepest shadows lose a
    # few levels on the way through the model's colour space; everything else comes back within one.
    error = np.abs(_pixels(restored) - _pixels(gray))
    assert error.max() <= 6
    assert error[np.asarray(gray) >= 20].max() <= 1
    with Image.open(save_image(restored, tmp_path / "out.webp", source=img, lossless=True)) as written:
        assert written.mode == "RGB" and written.info["icc_profile"] == SRGB
        assert _mean_difference(written, img.rgb) < 0.1 and _max_difference(written, img.rgb) <= 2


def test_unusable_profiles_are_ignored_with_a_warning(small: Image.Image, tmp_path: Path) -> None:
    garbage = load_image(_save(small, tmp_path / "garbage.png", icc_profile=b"not a profile at all"))
    assert any("unreadable" in warning for warning in garbage.warnings)
    assert _max_difference(garbage.rgb, small) == 0
    assert "icc_profile" not in garbage.restore(garbage.rgb).info

    gray_with_rgb_profile = _save(small.convert("L"), tmp_path / "mismatch.png", icc_profile=ADOBE_LIKE_RGB)
    mismatched = load_image(gray_with_rgb_profile)
    assert any("ignored" in warning for warning in mismatched.warnings)


# ---------------------------------------------------------------- metadata


def _camera_jpeg(image: Image.Image, path: Path) -> Path:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Model 1"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2024:05:06 07:08:09"
    sub[ExifTags.Base.ExifImageWidth] = 9999
    sub[ExifTags.Base.UserComment] = b"ASCII\0\0\0taken on holiday"
    return _save(image, path, exif=exif, dpi=(240, 240), comment="a JPEG comment", quality=95)


def test_exif_dpi_and_comment_are_carried_to_every_format(small: Image.Image, tmp_path: Path) -> None:
    img = load_image(_camera_jpeg(small, tmp_path / "camera.jpg"))
    for extension in (".jpg", ".png", ".webp"):
        out = save_image(img.restore(img.rgb), tmp_path / f"out{extension}", source=img, metadata="keep")
        with Image.open(out) as written:
            exif = written.getexif()
            sub = exif.get_ifd(ExifTags.IFD.Exif)
            assert (exif[ExifTags.Base.Make], exif[ExifTags.Base.Model]) == ("TestCam", "Model 1")
            assert sub[ExifTags.Base.DateTimeOriginal] == "2024:05:06 07:08:09"
            assert sub[ExifTags.Base.ExifImageWidth] == small.width  # describes the output now
            assert sub[ExifTags.Base.UserComment].endswith(b"taken on holiday")
            if extension != ".webp":
                assert round(written.info["dpi"][0]) == 240
    with Image.open(tmp_path / "out.jpg") as written:
        assert written.info["comment"] == b"a JPEG comment"
    with Image.open(tmp_path / "out.png") as written:
        assert written.info["Comment"] == "a JPEG comment"


def test_png_text_chunks_are_carried(tmp_path: Path) -> None:
    img = load_image(ASTRONAUT_PATH)
    out = save_image(img.restore(img.rgb), tmp_path / "out.png", source=img)
    with Image.open(out) as written:
        assert written.info["Comment"] == img.text["Comment"]


# ---------------------------------------------------------------- parameters


PARAMETERS = {"prompt": "blue eyes, sourire ☺", "seed": 1234, "guidance": 7.5, "steps": [10, 20], "x": None}


@pytest.mark.parametrize("extension", [".png", ".jpg", ".webp"])
def test_parameters_round_trip(small: Image.Image, tmp_path: Path, extension: str) -> None:
    img = load_image(_camera_jpeg(small, tmp_path / "camera.jpg"))
    out = save_image(img.restore(img.rgb), tmp_path / f"out{extension}", source=img, parameters=PARAMETERS)
    assert read_parameters(out) == PARAMETERS
    assert read_parameters(out.read_bytes()) == PARAMETERS


def test_parameters_of_an_earlier_run_are_not_carried_over(small: Image.Image, tmp_path: Path) -> None:
    first = save_image(small, tmp_path / "first.jpg", parameters={"seed": 1})
    again = load_image(first)
    second = save_image(again.restore(again.rgb), tmp_path / "second.jpg", source=again)
    assert read_parameters(second) is None
    third = save_image(again.restore(again.rgb), tmp_path / "third.jpg", source=again, parameters={"seed": 2})
    assert read_parameters(third) == {"seed": 2}


def test_images_without_parameters_read_as_none(small: Image.Image, tmp_path: Path) -> None:
    assert read_parameters(ASTRONAUT_PATH) is None
    assert read_parameters(_camera_jpeg(small, tmp_path / "camera.jpg")) is None  # a camera's comment
    with pytest.raises(InputImageError, match="no such file"):
        read_parameters(tmp_path / "missing.png")


def test_paths_are_stored_as_text_and_unstorable_values_refused(small: Image.Image, tmp_path: Path) -> None:
    out = save_image(small, tmp_path / "out.png", parameters={"model": tmp_path / "model"})
    assert read_parameters(out) == {"model": os.fspath(tmp_path / "model")}
    with pytest.raises(TypeError, match="object"):
        save_image(small, tmp_path / "bad.png", parameters={"x": object()})
    assert not (tmp_path / "bad.png").exists()


# ---------------------------------------------------------------- refusals


def test_a_huge_header_is_refused_before_decoding() -> None:
    bomb = _png(100_000, 100_000, 8, 2, b"\0" * 64)  # claims 10 gigapixels, holds 64 bytes
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not surface either
        message = _refusal(bomb)
    assert time.perf_counter() - started < 1.0
    assert "100000x100000" in message and "limit" in message
    assert "DecompressionBomb" not in message


def test_the_pixel_limit_is_configurable_and_pillow_s_own_limit_does_not_interfere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "512x512" in _refusal(ASTRONAUT_PATH, max_pixels=100_000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow alone would refuse 512x512
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(ASTRONAUT_PATH, max_pixels=None).size == (512, 512)
    assert Image.MAX_IMAGE_PIXELS == 1000  # restored for everyone else


@pytest.mark.parametrize("extension", [".png", ".jpg"])
def test_truncated_files_are_refused_even_if_pillow_is_told_to_be_lenient(
    astronaut: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extension: str
) -> None:
    whole = _save(astronaut, tmp_path / f"whole{extension}").read_bytes()
    cut = tmp_path / f"cut{extension}"
    cut.write_bytes(whole[: len(whole) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    message = _refusal(cut)
    assert message.startswith(f"{cut}: ") and "truncated" in message


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("hello, I am not a picture\n"), "not an image file"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "corrupt or truncated PNG"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: None, "no such file"),
        (lambda p: Image.new("RGB", (8, 8)).save(p, format="PPM"), "PPM images are not supported"),
    ],
    ids=["zero-byte", "text", "broken-header", "directory", "missing", "unsupported"],
)
def test_bad_inputs_are_refused_in_one_line_naming_the_file(tmp_path: Path, make, expected: str) -> None:
    path = tmp_path / "input.png"
    make(path)
    message = _refusal(path)
    assert message.startswith(f"{path}: ") and expected in message


def test_empty_bytes_are_refused() -> None:
    assert "empty" in _refusal(b"")


# ---------------------------------------------------------------- output paths and formats


def test_unknown_extension_is_refused_before_any_work(
    small: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(Image.SAVE, "GIF", lambda *a: pytest.fail("encoder reached"))
    for name in ("out.gif", "out", "out.tiff"):
        with pytest.raises(ConfigurationError, match="use one of"):
            save_image(small, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    assert output_format_for("A.JPEG") == "JPEG"
    with pytest.raises(ConfigurationError, match="names a folder; give a file name"):
        output_format_for("results/")


def test_default_output_path_sits_next_to_the_input() -> None:
    assert default_output_path("photos/me.jpg") == Path("photos/me.cured.png")
    assert default_output_path(Path("me.png"), suffix="-v2", ext="webp") == Path("me-v2.webp")
    with pytest.raises(ConfigurationError):
        default_output_path("me.jpg", ext=".bmp")


def test_quality_and_lossless_options(small: Image.Image, tmp_path: Path) -> None:
    high = save_image(small, tmp_path / "high.jpg")
    low = save_image(small, tmp_path / "low.jpg", quality=30)
    assert low.stat().st_size < high.stat().st_size
    lossy = save_image(small, tmp_path / "lossy.webp", quality=50)
    lossless = save_image(small, tmp_path / "lossless.webp", lossless=True)
    with Image.open(lossless) as exact, Image.open(lossy) as approximate:
        assert _max_difference(exact.convert("RGB"), small) == 0
        assert _max_difference(approximate.convert("RGB"), small) > 0
    for bad in (0, 101, 9.5):
        with pytest.raises(ConfigurationError, match="quality"):
            save_image(small, tmp_path / "bad.jpg", quality=bad)
    with pytest.raises(ConfigurationError, match="lossless"):
        save_image(small, tmp_path / "bad.jpg", lossless=True)


def test_high_quality_jpeg_keeps_full_colour_resolution(small: Image.Image, tmp_path: Path) -> None:
    # 4:2:0 would halve the chroma resolution of the irises and lips the tool edits.
    with Image.open(save_image(small, tmp_path / "high.jpg")) as high:
        assert JpegImagePlugin.get_sampling(high) == 0  # 4:4:4
    with Image.open(save_image(small, tmp_path / "low.jpg", quality=75)) as low:
        assert JpegImagePlugin.get_sampling(low) == 2  # 4:2:0


def test_an_existing_output_is_refused_unless_overwrite(
    small: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with monkeypatch.context() as patch:
        patch.setitem(Image.SAVE, "PNG", lambda *a: pytest.fail("encoded before refusing"))
        with pytest.raises(ConfigurationError, match="already exists"):
            save_image(small, target)
    assert target.read_bytes() == b"precious"
    save_image(small, target, overwrite=True)
    with Image.open(target) as written:
        assert written.size == small.size


def test_the_input_is_never_the_output(astronaut: Image.Image, tmp_path: Path) -> None:
    original = _save(astronaut, tmp_path / "in.png")
    before = original.read_bytes()
    img = load_image(original)
    symlink = tmp_path / "link.png"
    symlink.symlink_to(original)
    hard_link = tmp_path / "hard.png"
    os.link(original, hard_link)
    (tmp_path / "sub").mkdir()
    for target in (original, tmp_path / "sub" / ".." / "in.png", symlink, hard_link):
        with pytest.raises(ConfigurationError, match="is the input image"):
            save_image(img.restore(img.rgb), target, source=img, overwrite=True)
    assert original.read_bytes() == before


def test_loading_and_saving_never_modify_the_input(small: Image.Image, tmp_path: Path) -> None:
    original = _camera_jpeg(small, tmp_path / "in.jpg")
    past = time.time() - 3600
    os.utime(original, (past, past))
    before = (original.read_bytes(), original.stat().st_mtime_ns)
    img = load_image(original)
    out = default_output_path(original, ext=".jpg")
    save_image(img.restore(img.rgb), out, source=img, parameters=PARAMETERS)
    assert (original.read_bytes(), original.stat().st_mtime_ns) == before


def test_output_gets_ordinary_permissions(small: Image.Image, tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    out = save_image(small, tmp_path / "out.png")
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


# ---------------------------------------------------------------- atomic writes


def _failing_encoder(exception: BaseException, also=None):
    def encode(image, stream, filename) -> None:
        stream.write(b"half an image")
        if also is not None:
            also()
        raise exception

    return encode


@pytest.mark.parametrize("exception", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_nothing_behind(
    small: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exception: BaseException
) -> None:
    monkeypatch.setitem(Image.SAVE, "PNG", _failing_encoder(exception))
    expected = FreeCureError if isinstance(exception, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        save_image(small, tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_overwrite_keeps_the_old_file(
    small: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")
    monkeypatch.setitem(Image.SAVE, "PNG", _failing_encoder(OSError(5, "Input/output error")))
    with pytest.raises(FreeCureError, match="out.png: cannot write it"):
        save_image(small, target, overwrite=True)
    assert target.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_a_file_appearing_during_the_write_is_not_clobbered(
    small: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    real_encoder = Image.SAVE["PNG"]

    def encode_while_someone_else_writes(image, stream, filename) -> None:
        target.write_bytes(b"someone else's")
        real_encoder(image, stream, filename)

    monkeypatch.setitem(Image.SAVE, "PNG", encode_while_someone_else_writes)
    with pytest.raises(ConfigurationError, match="already exists"):
        save_image(small, target)
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_restore_refuses_a_cured_image_of_another_size(small: Image.Image) -> None:
    img = load_image(small)
    with pytest.raises(ValueError, match="size"):
        img.restore(small.resize((10, 10)))


def test_the_embedded_srgb_profile_is_srgb_and_the_same_in_every_process() -> None:
    import subprocess
    import sys

    profile = ImageCms.ImageCmsProfile(io.BytesIO(SRGB))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    code = "from freecure_edit.imageio.colour import srgb_profile_bytes as b; print(b().hex())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert bytes.fromhex(other.stdout.strip()) == SRGB
