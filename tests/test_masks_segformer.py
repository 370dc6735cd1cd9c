"""The segformer parser, loaded from a tiny random SegFormer saved with save_pretrained."""

from __future__ import annotations

import json

import pytest
import torch
from mask_fixtures import TINY_INPUT, gradient_image, save_tiny_segformer

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.masks import BISENET_LABEL_ORDER, CANONICAL_LABELS, load_parser


@pytest.fixture(scope="module")
def canonical_folder(tmp_path_factory):
    return save_tiny_segformer(tmp_path_factory.mktemp("segformer"))


def test_parse_gives_one_probability_map_per_canonical_label(canonical_folder):
    parser = load_parser("segformer", str(canonical_folder), device="cpu")
    assert parser.size == (TINY_INPUT, TINY_INPUT)  # read from preprocessor_config.json
    maps = parser.parse(gradient_image(40, 56))
    assert set(maps) == set(CANONICAL_LABELS) == set(parser.labels)
    for label_map in maps.values():
        assert label_map.shape == (56, 40) and label_map.dtype == torch.float32
        assert 0 <= float(label_map.min()) and float(label_map.max()) <= 1
    assert torch.allclose(torch.stack(list(maps.values())).sum(0), torch.ones(56, 40), atol=1e-5)


@pytest.mark.parametrize("order", [CANONICAL_LABELS, BISENET_LABEL_ORDER], ids=["hub-order", "bisenet-order"])
def test_labels_are_mapped_by_name_from_the_config(tmp_path, order):
    folder = save_tiny_segformer(tmp_path, labels=order, hot_label="hair")
    maps = load_parser("segformer", str(folder), device="cpu").parse(gradient_image(32, 24))
    assert float(maps["hair"].min()) > 0.99


def test_config_with_other_spellings_is_mapped(tmp_path):
    spelled = tuple({"eye_g": "eyeglasses", "l_eye": "left eye", "ear_r": "earring", "neck_l": "necklace"}.get(n, n)
                    for n in CANONICAL_LABELS)
    folder = save_tiny_segformer(tmp_path, labels=spelled, hot_label="earring")
    maps = load_parser("segformer", str(folder), device="cpu").parse(gradient_image(16, 16))
    assert set(maps) == set(CANONICAL_LABELS)
    assert float(maps["ear_r"].min()) > 0.99


def test_label_order_option_overrides_the_config(tmp_path):
    folder = save_tiny_segformer(tmp_path, hot_label="hair")  # class 13 in the config's order
    parser = load_parser("segformer", str(folder), device="cpu", label_order=BISENET_LABEL_ORDER)
    maps = parser.parse(gradient_image(16, 16))
    assert float(maps[BISENET_LABEL_ORDER[13]].min()) > 0.99
    with pytest.raises(ConfigurationError, match="label_order names 3"):
        load_parser("segformer", str(folder), device="cpu", label_order=["hair", "skin", "nose"])


def test_config_without_label_names_asks_for_label_order(tmp_path):
    folder = save_tiny_segformer(tmp_path, labels=tuple(f"LABEL_{i}" for i in range(19)))
    with pytest.raises(ConfigurationError, match="label_order"):
        load_parser("segformer", str(folder), device="cpu")


def test_missing_local_folder_names_the_path(tmp_path):
    missing = tmp_path / "face-parsing"
    with pytest.raises(ModelNotFoundError, match="face-parsing") as error:
        load_parser("segformer", str(missing))
    assert "\n" not in str(error.value)


def test_hub_id_not_in_cache_says_how_to_get_it():
    with pytest.raises(ModelNotFoundError, match="hf download freecure-tests/no-such-parser") as error:
        load_parser("segformer", "freecure-tests/no-such-parser")
    assert "\n" not in str(error.value)


def test_checkpoint_of_the_wrong_shape_is_refused(tmp_path):
    folder = save_tiny_segformer(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["hidden_sizes"] = [8, 24]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigurationError, match="does not fit"):
        load_parser("segformer", str(folder), device="cpu")
