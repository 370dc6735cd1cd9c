"""The bisenet parser, loaded from a narrow BiSeNet state dict saved the way 79999_iter.pth is."""

from __future__ import annotations

import pytest
import torch
from mask_fixtures import TINY_INPUT, gradient_image, save_tiny_bisenet, tiny_bisenet_state

from freecure_edit.errors import ConfigurationError, ModelNotFoundError, UnsafeCheckpointError
from freecure_edit.masks import BISENET_LABEL_ORDER, CANONICAL_LABELS, load_parser

HAIR_IN_BISENET_ORDER = BISENET_LABEL_ORDER.index("hair")


def load(path, **options):
    return load_parser("bisenet", str(path), device="cpu", input_size=TINY_INPUT, **options)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_parse_gives_one_probability_map_per_canonical_label(tmp_path, suffix):
    parser = load(save_tiny_bisenet(tmp_path / f"79999_iter{suffix}"))
    maps = parser.parse(gradient_image(50, 30))
    assert set(maps) == set(CANONICAL_LABELS)
    assert all(m.shape == (30, 50) for m in maps.values())
    assert torch.allclose(torch.stack(list(maps.values())).sum(0), torch.ones(30, 50), atol=1e-5)


def test_default_label_order_is_the_zllrunning_checkpoints(tmp_path):
    path = save_tiny_bisenet(tmp_path / "79999_iter.pth", hot_class=HAIR_IN_BISENET_ORDER)
    assert float(load(path).parse(gradient_image(20, 20))["hair"].min()) > 0.99


def test_label_order_option_maps_the_same_class_to_another_name(tmp_path):
    path = save_tiny_bisenet(tmp_path / "79999_iter.pth", hot_class=HAIR_IN_BISENET_ORDER)
    maps = load(path, label_order=CANONICAL_LABELS).parse(gradient_image(20, 20))
    assert float(maps[CANONICAL_LABELS[HAIR_IN_BISENET_ORDER]].min()) > 0.99
    assert float(maps["hair"].max()) < 0.01


def test_data_parallel_prefixes_are_accepted(tmp_path):
    state = {f"module.{k}": v for k, v in tiny_bisenet_state().items()}
    torch.save({"state_dict": state}, tmp_path / "wrapped.pth")
    assert load(tmp_path / "wrapped.pth").parse(gradient_image(8, 8))["skin"].shape == (8, 8)


@pytest.mark.parametrize("model", [None, "missing/79999_iter.pth"])
def test_missing_checkpoint_says_what_to_download(tmp_path, model):
    with pytest.raises(ModelNotFoundError, match="79999_iter.pth") as error:
        load_parser("bisenet", None if model is None else str(tmp_path / model))
    assert "\n" not in str(error.value)


def test_checkpoint_of_the_wrong_shape_is_refused(tmp_path):
    state = tiny_bisenet_state()
    state["cp.arm16.conv_atten.weight"] = torch.zeros(3, 3, 1, 1)
    torch.save(state, tmp_path / "reshaped.pth")
    with pytest.raises(ConfigurationError, match="does not fit the BiSeNet network.*cp.arm16.conv_atten.weight"):
        load(tmp_path / "reshaped.pth")

    save_tiny_bisenet(tmp_path / "eleven.pth", num_classes=11)
    with pytest.raises(ConfigurationError, match="11 classes but label_order names 19"):
        load(tmp_path / "eleven.pth")

    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(ConfigurationError, match="not a BiSeNet"):
        load(tmp_path / "other.pth")

    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ConfigurationError, match="not a readable checkpoint"):
        load(tmp_path / "garbage.pth")


class _Payload:
    """Not a tensor: weights_only unpickling must refuse it."""


def test_checkpoint_with_python_objects_is_not_unpickled(tmp_path):
    torch.save({"state": tiny_bisenet_state(), "extra": _Payload()}, tmp_path / "pickled.pth")
    with pytest.raises(UnsafeCheckpointError):
        load(tmp_path / "pickled.pth")


def test_bad_label_names_and_input_size(tmp_path):
    path = save_tiny_bisenet(tmp_path / "79999_iter.pth")
    with pytest.raises(ConfigurationError, match="label_order"):
        load(path, label_order=[f"class{i}" for i in range(19)])
    with pytest.raises(ConfigurationError, match="input_size"):
        load_parser("bisenet", str(path), device="cpu", input_size=8)
