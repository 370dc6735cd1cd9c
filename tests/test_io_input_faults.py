"""Images as users bring them (issue 14, items 11, 13, 14): wide-gamut photos keep every pixel the cure
did not change, a JPEG missing only its end marker is read with a warning, HEIC is read or refused
clearly. Inputs are built here; ICC profiles byte by byte with the helpers of test_io."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from cure_fixtures import FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.imageio.compose import blend_into
from freecure_edit.errors import InputImageError
from freecure_edit.imageio.colour import changed_box
from freecure_edit.imageio import load_image, save_image
from test_io import D50, GRAY_GAMMA_22, _description_tag, _icc_profile, _xyz_tag


def _para_srgb_curve() -> bytes:
    """ICC parametric curve type 3, the sRGB transfer function."""
    values = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    return b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(struct.pack(">i", round(v * 65536)) for v in values)


# Display P3: DCI-P3 primaries, D65 white adapted to D50, the sRGB curve (as Apple's profile).
DISPLAY_P3 = _icc_profile(
    b"RGB ",
    {
        b"desc": _description_tag("Display P3 (test)"),
        b"wtpt": D50,
        b"rXYZ": _xyz_tag(0.515102, 0.241196, -0.001053),
        b"gXYZ": _xyz_tag(0.291965, 0.692208, 0.041895),
        b"bXYZ": _xyz_tag(0.157153, 0.066597, 0.784097),
        b"rTRC": _para_srgb_curve(),
        b"gTRC": _para_srgb_curve(),
        b"bTRC": _para_srgb_curve(),
    },
)


def _saturated_photo(width: int = 96, height: int = 64, seed: int = 3) -> Image.Image:
    """Full-range colours, many outside sRGB once read as P3, and the P3 red of the issue."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    pixels[:8, :8] = (238, 0, 0)
    pixels[8:16, :8] = (0, 255, 0)
    return Image.fromarray(pixels, "RGB")


def _p3_file(tmp_path: Path, image: Image.Image, name: str = "p3.png", **options) -> Path:
    path = tmp_path / name
    image.save(path, icc_profile=DISPLAY_P3, **options)
    return path


def test_the_p3_profile_really_clips_through_srgb(tmp_path: Path) -> None:
    # The premise of the issue: a plain sRGB round trip changes these pixels.
    source = _saturated_photo()
    img = load_image(_p3_file(tmp_path, source))
    round_trip = np.asarray(img.colour_plan.apply(img.rgb)).astype(int)
    moved = np.abs(round_trip - np.asarray(source).astype(int)).max(axis=-1)
    assert (moved > 10).mean() > 0.1
    assert tuple(round_trip[0, 0]) != (238, 0, 0)


@pytest.mark.parametrize("profile", [DISPLAY_P3, None], ids=["display-p3", "untagged"])
def test_nothing_cured_means_every_pixel_is_the_input_s(tmp_path: Path, profile) -> None:
    source = _saturated_photo()
    path = tmp_path / "in.png"
    source.save(path, **({"icc_profile": profile} if profile else {}))
    img = load_image(path)

    restored = img.restore(img.rgb.copy())

    assert np.array_equal(np.asarray(restored), np.asarray(source))
    if profile:
        assert restored.info["icc_profile"] == DISPLAY_P3


def test_a_gray_profile_keeps_every_uncured_pixel(tmp_path: Path) -> None:
    gray = _saturated_photo().convert("L")
    path = tmp_path / "gray.png"
    gray.save(path, icc_profile=GRAY_GAMMA_22)
    img = load_image(path)
    assert np.array_equal(np.asarray(img.restore(img.rgb)), np.asarray(gray))


def test_only_the_cured_region_is_converted(tmp_path: Path) -> None:
    source = _saturated_photo()
    img = load_image(_p3_file(tmp_path, source))
    mask = np.zeros((64, 96), dtype=np.float32)
    mask[20:40, 30:70] = 1.0
    import torch

    cured = blend_into(img.rgb, Image.new("RGB", img.size, (120, 90, 60)), torch.from_numpy(mask), feather_px=4)
    restored = np.asarray(img.restore(cured)).astype(int)

    changed = (np.asarray(cured) != np.asarray(img.rgb)).any(axis=-1)
    assert changed[20:40, 30:70].all() and not changed[:10].any()
    original = np.asarray(source).astype(int)
    assert np.array_equal(restored[~changed], original[~changed])
    # The cured pixels are the cured sRGB colours in P3, exactly as a whole-image conversion gives them.
    whole = np.asarray(img.colour_plan.apply(cured)).astype(int)
    assert np.array_equal(restored[changed], whole[changed])
    written = save_image(img.restore(cured), tmp_path / "out.png", source=img)
    with Image.open(written) as back:
        assert back.info["icc_profile"] == DISPLAY_P3
        assert np.array_equal(np.asarray(back).astype(int)[~changed], original[~changed])


def test_a_cure_with_an_empty_mask_writes_the_p3_photo_back_unchanged(load_tiny, tmp_path: Path) -> None:
    source = _saturated_photo(64, 64)
    img = load_image(_p3_file(tmp_path, source))
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser({}))

    result = fc.cure(img, "a woman with black curly hair", CureConfig(steps=2))
    out = save_image(img.restore(result.image), tmp_path / "cured.png", source=img)

    with Image.open(out) as written:
        assert np.array_equal(np.asarray(written), np.asarray(source))


def test_changed_box_spans_strips() -> None:
    a = Image.new("RGB", (40, 700), (10, 20, 30))
    b = a.copy()
    assert changed_box(a, b) is None
    b.putpixel((5, 3), (0, 0, 0))
    b.putpixel((33, 650), (0, 0, 0))
    assert changed_box(a, b) == (5, 3, 34, 651)


# ---------------------------------------------------------------- item 13: JPEG without its end marker


def _jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    data = buffer.getvalue()
    assert data.endswith(b"\xff\xd9")
    return data


@pytest.mark.parametrize("options", [{"quality": 90}, {"quality": 95, "subsampling": "4:4:4"},
                                     {"quality": 80, "progressive": True}],
                         ids=["baseline-420", "baseline-444", "progressive"])
def test_a_jpeg_missing_only_its_end_marker_is_decoded_with_a_warning(tmp_path: Path, options) -> None:
    photo = _saturated_photo(80, 48).resize((160, 96))
    data = _jpeg_bytes(photo, **options)
    path = tmp_path / "no-end.jpg"
    path.write_bytes(data[:-2])

    img = load_image(path)

    with Image.open(io.BytesIO(data)) as whole:
        assert np.array_equal(np.asarray(img.rgb), np.asarray(whole.convert("RGB")))
    assert any("end-of-image marker" in warning for warning in img.warnings)
    assert path.read_bytes() == data[:-2]  # the input is never modified
    assert load_image(data[:-2]).size == (160, 96)  # bytes too


@pytest.mark.parametrize("options", [{"quality": 90}, {"quality": 80, "progressive": True}],
                         ids=["baseline", "progressive"])
@pytest.mark.parametrize("cut", [3, 5, 40, 600, "half"])
def test_a_jpeg_cut_inside_its_image_data_is_still_refused(tmp_path: Path, options, cut) -> None:
    data = _jpeg_bytes(_saturated_photo(80, 48).resize((160, 96)), **options)
    end = len(data) // 2 if cut == "half" else len(data) - cut
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:end])
    with pytest.raises(InputImageError, match="truncated"):
        load_image(path)


# ---------------------------------------------------------------- item 14: HEIC / HEIF


def _heic_bytes(image: Image.Image, **options) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=-1, **options)
    return buffer.getvalue()


def _smooth(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    return Image.fromarray(np.concatenate([np.broadcast_to(x, (height, width, 1)),
                                           np.broadcast_to(y, (height, width, 1)),
                                           np.full((height, width, 1), 90.0)], axis=-1).astype(np.uint8))


def test_a_heic_photo_is_read_like_any_other(tmp_path: Path) -> None:
    source = _smooth(64, 48)
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(_heic_bytes(source))

    img = load_image(path)

    assert img.format == "HEIF" and img.size == (64, 48)
    error = np.abs(np.asarray(img.rgb).astype(int) - np.asarray(source).astype(int))
    assert error.mean() < 2 and error.max() <= 8  # HEVC stores YCbCr with halved chroma
    written = save_image(img.restore(img.rgb), tmp_path / "out.png", source=img)
    assert Image.open(written).size == (64, 48)


def test_a_rotated_heic_is_turned_upright_once(tmp_path: Path) -> None:
    from PIL import ExifTags

    source = Image.new("RGB", (64, 48), (0, 0, 0))
    source.paste((255, 255, 255), (0, 0, 8, 8))  # a marker in the top-left corner
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown turned 90 degrees clockwise
    img = load_image(_heic_bytes(source, exif=exif.tobytes()))

    assert img.size == (48, 64)
    pixels = np.asarray(img.rgb).astype(int)
    assert pixels[:8, -8:].mean() > 200 and pixels[:8, :8].mean() < 50  # the marker is now top-right


def test_without_pillow_heif_a_heic_is_refused_naming_the_remedy(tmp_path: Path, monkeypatch) -> None:
    import freecure_edit.imageio.opening as opening

    path = tmp_path / "IMG_0002.heic"
    path.write_bytes(_heic_bytes(_smooth(32, 32)))
    monkeypatch.setattr(opening, "heif_support", lambda: False)

    with pytest.raises(InputImageError) as caught:
        load_image(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "pillow-heif" in message and "freecure-edit[heif]" in message and "convert" in message


def test_a_cut_heic_is_refused(tmp_path: Path) -> None:
    data = _heic_bytes(_smooth(64, 48))
    path = tmp_path / "cut.heic"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputImageError, match="corrupt") as caught:
        load_image(path)
    assert str(caught.value).startswith(f"{path}: ")
