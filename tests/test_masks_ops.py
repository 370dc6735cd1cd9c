"""Mask building, resizing to attention grids, dilation, feathering and the overlay, on synthetic parses."""

from __future__ import annotations

import logging

import pytest
import torch
from mask_fixtures import gradient_image, one_hot_parse

from freecure_edit.errors import ConfigurationError
from freecure_edit.masks import (
    CANONICAL_LABELS,
    build_attribute_masks,
    dilate,
    feather,
    label_region,
    mask_overlay,
    resize_mask,
)
from freecure_edit.prompts import parse_prompt

HAIR = CANONICAL_LABELS.index("hair")
EYE_G = CANONICAL_LABELS.index("eye_g")
L_EYE, R_EYE = CANONICAL_LABELS.index("l_eye"), CANONICAL_LABELS.index("r_eye")


def label_map(height: int, width: int) -> torch.Tensor:
    return torch.full((height, width), CANONICAL_LABELS.index("skin"), dtype=torch.long)


def test_one_hot_parse_on_non_square_image_resizes_exactly_to_a_coarser_grid():
    labels = label_map(96, 64)
    labels[16:48, 8:24] = HAIR  # aligned with the 8x coarser grid
    masks = build_attribute_masks(parse_prompt("a man with black hair"), one_hot_parse(labels), one_hot_parse(labels))
    coarse = resize_mask(masks.per_attribute["hair"], 12, 8)
    expected = torch.zeros(12, 8)
    expected[2:6, 1:3] = 1
    assert torch.equal(coarse, expected)
    assert torch.equal(resize_mask(masks.union, 12, 8), expected)


def test_resize_counts_partly_covered_cells_by_area():
    mask = torch.zeros(5, 10)
    mask[:, 0:3] = 1
    row = resize_mask(mask, 1, 4)[0]  # cells of 2.5 px: [0, 2.5) full, [2.5, 5) one fifth covered
    assert torch.allclose(row, torch.tensor([1.0, 0.2, 0.0, 0.0]), atol=1e-6)


def test_resize_grows_by_linear_interpolation_and_keeps_batch_dims():
    mask = torch.tensor([[0.0, 1.0]])
    assert torch.allclose(resize_mask(mask, 1, 4), torch.tensor([[0.0, 0.25, 0.75, 1.0]]))
    stack = torch.rand(3, 2, 30, 20)
    assert resize_mask(stack, 7, 11).shape == (3, 2, 7, 11)
    with pytest.raises(ValueError):
        resize_mask(stack, 0, 4)


def test_changed_attribute_covers_both_images_and_removed_one_only_the_photo():
    photo, fd = label_map(32, 48), label_map(32, 48)
    photo[0:8, 0:48] = HAIR
    fd[0:12, 4:44] = HAIR
    photo[14:18, 10:38] = EYE_G  # the photo has glasses, the FD image none
    parsed = parse_prompt("a man with long red hair, without glasses, smiling")
    masks = build_attribute_masks(parsed, one_hot_parse(photo), one_hot_parse(fd))
    assert set(masks.per_attribute) == {"hair", "glasses"}  # the expression gets no mask
    assert torch.equal(masks.per_attribute["hair"], ((photo == HAIR) | (fd == HAIR)).float())
    assert torch.equal(masks.per_attribute["glasses"], (photo == EYE_G).float())
    assert torch.equal(masks.union, ((photo == HAIR) | (fd == HAIR) | (photo == EYE_G)).float())
    assert masks.warnings == []


def test_attribute_with_two_labels_sums_their_probabilities():
    parse = {name: torch.zeros(4, 4) for name in CANONICAL_LABELS}
    parse["l_eye"][0, 0] = 0.3
    parse["r_eye"][0, 0] = 0.3  # neither alone is 0.5, together the pixel is an eye
    masks = build_attribute_masks(parse_prompt("a man with blue eyes"), parse, parse)
    assert masks.per_attribute["eyes"][0, 0] == 1 and masks.per_attribute["eyes"].sum() == 1
    soft = build_attribute_masks(parse_prompt("a man with blue eyes"), parse, parse, threshold=None)
    assert torch.isclose(soft.per_attribute["eyes"][0, 0], torch.tensor(0.6))


def test_fd_parse_of_another_size_is_resized_to_the_photo():
    photo, fd = label_map(40, 60), label_map(20, 30)
    fd[0:10, 0:15] = HAIR
    masks = build_attribute_masks(parse_prompt("a woman with blonde hair"), one_hot_parse(photo), one_hot_parse(fd))
    expected = torch.zeros(40, 60)
    expected[0:20, 0:30] = 1
    assert torch.equal(masks.per_attribute["hair"], expected)


def test_empty_mask_is_reported_by_attribute_name(caplog):
    labels = label_map(16, 16)
    with caplog.at_level(logging.WARNING):
        masks = build_attribute_masks(
            parse_prompt("a man wearing silver earrings"), one_hot_parse(labels), one_hot_parse(labels)
        )
    (warning,) = masks.warnings
    assert "'earrings'" in warning and "silver earrings" in warning
    assert warning in caplog.text
    assert masks.per_attribute["earrings"].sum() == 0 and masks.union.sum() == 0


def test_dilation_grows_an_octagon_by_the_given_pixels():
    mask = torch.zeros(11, 11)
    mask[5, 5] = 1
    grown = dilate(mask, 2)
    rows, columns = torch.nonzero(grown, as_tuple=True)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (3, 7, 3, 7)
    assert grown[3, 3] == 0 and grown[3, 4] == 1  # corners cut: closer to a disk than a square
    assert torch.equal(dilate(mask, 0), mask)


def test_feathering_softens_only_near_the_edge():
    mask = torch.zeros(40, 40)
    mask[10:30, 10:30] = 1
    soft = feather(mask, 4)
    assert soft.min() >= 0 and soft.max() <= 1
    assert float(soft[20, 20]) == pytest.approx(1.0, abs=1e-4) and float(soft[1, 1]) == pytest.approx(0.0, abs=1e-4)
    assert 0.3 < float(soft[20, 10]) < 0.7
    assert float(soft.sum()) == pytest.approx(float(mask.sum()), rel=0.02)


def test_settings_are_checked():
    labels = label_map(8, 8)
    parse = one_hot_parse(labels)
    parsed = parse_prompt("a man with red hair")
    for settings in ({"dilation_px": -1}, {"feather_px": -2}, {"threshold": 0}, {"dilation_px": 1.5}):
        with pytest.raises(ConfigurationError):
            build_attribute_masks(parsed, parse, parse, **settings)
    with pytest.raises(ConfigurationError):
        build_attribute_masks(parsed, {}, parse)


def test_dilation_and_feathering_are_applied_to_built_masks():
    labels = label_map(32, 32)
    labels[12:20, 12:20] = HAIR
    parse = one_hot_parse(labels)
    masks = build_attribute_masks(parse_prompt("a man with red hair"), parse, parse, dilation_px=2, feather_px=2)
    hair = masks.per_attribute["hair"]
    assert float(hair[16, 16]) == pytest.approx(1.0, abs=1e-3)
    assert hair[16, 10] > 0.4 and hair[16, 5] < 0.01  # grown by 2 px, then softened


def test_label_region_treats_missing_labels_as_empty():
    region = label_region({"hair": torch.ones(3, 5)}, ("hat",), (3, 5))
    assert torch.equal(region, torch.zeros(3, 5))


def test_overlay_tints_masked_pixels_only():
    photo = gradient_image(48, 32)
    hair = torch.zeros(32, 48)
    hair[20:32, 24:48] = 1
    eyes = torch.zeros(16, 24)  # another size: resized to the photo
    eyes[12:16, 0:4] = 1
    overlay = mask_overlay(photo, {"hair": hair, "eyes": eyes})
    assert overlay.size == photo.size and overlay.mode == "RGB"
    assert overlay.getpixel((30, 25)) != photo.getpixel((30, 25))
    assert overlay.getpixel((2, 30)) != photo.getpixel((2, 30))
    assert overlay.getpixel((40, 10)) == photo.getpixel((40, 10))
