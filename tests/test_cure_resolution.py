"""What a cure says about the resolution it worked at: a whole photo cured far below its own size, and a
toy or test model (the toy world's draws 64 px portraits) given a real photo."""

from __future__ import annotations

import pytest

from conftest import random_photo
from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure


@pytest.fixture
def tiny_cure(load_tiny):
    return FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))


def test_a_photo_at_the_models_size_gets_no_resolution_warning(tiny_cure):
    assert tiny_cure.backbone.native_size == 64
    result = tiny_cure.cure(random_photo(64, 48, 1), "a woman with red hair", CureConfig(steps=2, detect=False))
    assert not any("smaller" in text or "toy" in text for text in result.warnings), result.warnings


def test_a_photo_far_larger_than_a_toy_models_size_is_warned_about(tiny_cure):
    result = tiny_cure.cure(random_photo(256, 192, 2), "a woman with red hair", CureConfig(steps=2, detect=False))
    assert any("cured at 64x48, 4.0x smaller" in text for text in result.warnings), result.warnings
    assert any("draws 64 px images" in text and "256x192" in text for text in result.warnings), result.warnings
