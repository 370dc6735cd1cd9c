"""Parsers by name, and the images they accept."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mask_fixtures import TINY_INPUT, gradient_image, save_tiny_bisenet
from PIL import Image

from freecure_edit.errors import ConfigurationError, InputImageError
from freecure_edit.masks import available_parsers, canonical_label, load_parser


@pytest.fixture(scope="module")
def parser(tmp_path_factory):
    path = save_tiny_bisenet(tmp_path_factory.mktemp("bisenet") / "79999_iter.pth")
    return load_parser("bisenet", str(path), device="cpu", input_size=TINY_INPUT)


def assert_same_parse(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_backends_are_listed_and_unknown_names_refused():
    assert available_parsers() == ("segformer", "bisenet", "sam")
    with pytest.raises(ConfigurationError, match="segformer, bisenet, sam"):
        load_parser("deeplab")


def test_unknown_option_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigurationError, match="no option colour_order"):
        load_parser("bisenet", str(tmp_path / "x.pth"), colour_order=[])


def test_sam_parser_options_are_checked(tmp_path):
    with pytest.raises(ConfigurationError, match="refine_labels"):
        load_parser("sam", str(tmp_path / "sam.pth"), refine_labels=["earrings"])


def test_grayscale_image_is_parsed_as_rgb(parser):
    gray = gradient_image(40, 24, mode="L")
    assert_same_parse(parser.parse(gray), parser.parse(gray.convert("RGB")))


def test_sixteen_bit_grayscale_is_scaled_not_clipped(parser):
    ramp = (np.arange(24 * 40, dtype=np.int32).reshape(24, 40) * 60).astype(np.int32)
    deep = Image.fromarray(ramp)
    assert deep.mode == "I"
    expected = Image.fromarray((ramp / ramp.max() * 255).round().astype(np.uint8)).convert("RGB")
    assert_same_parse(parser.parse(deep), parser.parse(expected))


def test_rgba_image_is_composited_on_white(parser):
    rgba = gradient_image(40, 24, mode="RGBA")
    alpha = np.zeros((24, 40), dtype=np.uint8)
    alpha[:, 20:] = 255
    rgba.putalpha(Image.fromarray(alpha))
    expected = np.asarray(rgba.convert("RGB")).copy()
    expected[:, :20] = 255
    maps = parser.parse(rgba)
    assert_same_parse(maps, parser.parse(Image.fromarray(expected)))
    assert maps["skin"].shape == (24, 40)


def test_palette_image_is_converted(parser):
    palette = gradient_image(16, 16).convert("P")
    assert_same_parse(parser.parse(palette), parser.parse(palette.convert("RGB")))


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 3), dtype=np.uint8), "photo.jpg", None])
def test_non_images_are_refused(parser, bad):
    with pytest.raises(InputImageError):
        parser.parse(bad)


def test_label_names_are_canonicalised():
    assert canonical_label("Left Eye") == "l_eye"
    assert canonical_label("eye_g") == "eye_g"
    assert canonical_label("necklace") == "neck_l"
    assert canonical_label("LABEL_3") is None
