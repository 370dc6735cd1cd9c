"""refine="sam": segment-anything tightens the masks the cure uses (a tiny SAM built from its own modules)."""

from __future__ import annotations

import pytest
import torch

from cure_fixtures import FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from mask_fixtures import save_tiny_sam

STEPS = 4
HAIR_BAND = {"hair": (0.25, 0.0, 0.75, 0.25)}


@pytest.fixture(scope="module")
def sam_everything(tmp_path_factory):
    """A SAM whose decoder answers "all of the image" to any prompt: its output is decided by the box."""
    return save_tiny_sam(tmp_path_factory.mktemp("sam") / "sam_tiny.safetensors", mask_logit=8.0)


def test_the_sam_mask_replaces_the_parser_mask_and_drives_fasa(load_tiny, photo, sam_everything):
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_BAND), sam_checkpoint=str(sam_everything))
    config = CureConfig(steps=STEPS, refine="sam")

    result = fc.cure(photo(64, 64), "a woman with black curly hair", config)

    hair = result.masks["hair"]
    parser_region = torch.zeros(64, 64)
    parser_region[0:16, 16:48] = 1
    # SAM answered "everything", kept within the parser's box grown by 10%: larger than the parser's band.
    assert float(hair[parser_region > 0].min()) == 1.0
    assert hair.sum() > parser_region.sum()
    assert float(hair[40:, :].max()) == 0.0, "nothing outside the grown box"
    assert torch.equal(result.masks["union"], hair)
    assert result.mask_sources == {"hair": "sam"}
    assert "sam" in result.stats.seconds


@pytest.mark.parametrize("prompt, kind, attributes", [
    ("a woman wearing a woollen scarf", "spatial", None),    # the parser has a label but finds nothing
    ("a woman with a butterfly tattoo", "abstract", None),   # no parser label at all
    # A word the prompt parser does not know is cured only when the user names it (issue 14: words not
    # about the face are otherwise left in the template).
    ("a man with a pipe", "abstract", ("pipe",)),
])
def test_a_mask_from_attention_where_the_parser_has_none(load_tiny, photo, sam_everything, prompt, kind, attributes):
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser({}), sam_checkpoint=str(sam_everything))

    result = fc.cure(photo(64, 64), prompt, CureConfig(steps=STEPS, refine="sam", attributes=attributes))

    [attribute] = result.attributes
    assert attribute.kind == kind
    assert result.mask_sources.get(attribute.name) == "attention"
    assert float(result.masks[attribute.name].max()) == 1.0
    assert any("less certain" in warning for warning in result.warnings)


def test_expressions_get_no_mask_from_attention(load_tiny, photo, sam_everything):
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser({}), sam_checkpoint=str(sam_everything))
    result = fc.cure(photo(64, 64), "a man laughing happily", CureConfig(steps=STEPS, refine="sam"))
    assert result.mask_sources == {}


def test_refine_sam_without_a_checkpoint_is_a_clear_error(load_tiny, photo):
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_BAND))
    with pytest.raises(ConfigurationError, match="--sam-checkpoint"):
        fc.cure(photo(64, 64), "a woman with black hair", CureConfig(steps=STEPS, refine="sam"))


def test_a_missing_sam_checkpoint_names_the_file(load_tiny, tmp_path):
    with pytest.raises(ModelNotFoundError, match="sam_vit_b_01ec64.pth"):
        FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser({}),
                 sam_checkpoint=str(tmp_path / "sam_vit_b_01ec64.pth"))
