"""Partial training captions (toyworld/captions.py): every form reads as the attributes it names, to the
project's prompt parser and to the toy judges; present attributes are always named; the rest varies."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from freecure_edit.prompts import parse_prompt
from freecure_edit.toyworld.captions import MAX_CHARS, named_families, sample_caption
from freecure_edit.toyworld.judges import asked_attributes
from freecure_edit.toyworld.world import EXPRESSIONS, GLASSES, HAIR_COLOURS, HAIR_STYLES, HATS, PortraitSpec

# Every attribute combination, for a woman (identity 0) and a man (identity 1).
SPECS = [PortraitSpec(identity=i, hair_colour=c, hair_style=s, glasses=g, expression=e, hat=h)
         for i, c, s, g, e, h in itertools.product((0, 1), HAIR_COLOURS, HAIR_STYLES, GLASSES, EXPRESSIONS, HATS)]


def _draws(per_spec: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(spec, sample_caption(spec, rng)) for spec in SPECS for _ in range(per_spec)]


def _expected(spec: PortraitSpec, caption: str) -> dict[str, str]:
    """What a caption says of `spec`, by family: the families whose words it contains."""
    named = {}
    if f" {spec.hair_colour} " in f" {caption} ".replace(",", " "):
        named["hair_colour"] = spec.hair_colour
    if f" {spec.hair_style} " in f" {caption} ".replace(",", " "):
        named["hair_style"] = spec.hair_style
    if "glasses" in caption:
        named["glasses"] = spec.glasses
    if "hat" in caption:
        named["hat"] = spec.hat
    if any(word in caption for word in ("smiling", "surprised", "neutral")):
        named["expression"] = spec.expression
    return named


def _parsed(caption: str) -> dict[str, str]:
    """The project's prompt parser's reading of a caption in the same terms as `_expected`."""
    parsed = parse_prompt(caption)
    assert parsed.template in ("a photo of a man", "a photo of a woman"), caption
    read = {}
    for attribute in parsed.attributes:
        assert attribute.known, (caption, attribute)
        words = attribute.text.split()
        if words[-1] == "hair":
            read.update({"hair_colour": w for w in words if w in HAIR_COLOURS})
            read.update({"hair_style": w for w in words if w in HAIR_STYLES})
        elif words[-1] in ("glasses", "sunglasses"):
            read["glasses"] = "none" if attribute.remove else ("sunglasses" if words[-1] == "sunglasses" else "round")
        elif words[-1] == "hat":
            read["hat"] = "none" if attribute.remove else "hat"
        elif attribute.name == "expression":
            read["expression"] = {"smiling": "smiling", "surprised": "surprised"}.get(words[0], "neutral")
        else:
            raise AssertionError(f"unexpected attribute {attribute} in {caption!r}")
    return read


def test_every_caption_form_parses_to_the_attributes_it_names():
    forms = set()
    for spec, caption in _draws():
        expected = _expected(spec, caption)
        assert _parsed(caption) == expected, caption
        assert asked_attributes(caption) == expected, caption
        forms.add(tuple(sorted(expected)))
    # Each family is named somewhere and left out somewhere: many forms, not a few.
    assert len(forms) > 20


def test_present_attributes_are_always_named_and_absent_ones_sometimes():
    absent_named = 0
    for spec, caption in _draws():
        said = asked_attributes(caption)
        for family, default in (("glasses", "none"), ("hat", "none"), ("expression", "neutral")):
            if getattr(spec, family) != default:
                assert said.get(family) == getattr(spec, family), caption
            else:
                absent_named += family in said
    assert absent_named > 0


def test_hair_words_are_dropped_freely_and_the_bare_template_occurs():
    draws = _draws()
    said = [asked_attributes(c) for _, c in draws]
    colour = np.mean(["hair_colour" in s for s in said])
    style = np.mean(["hair_style" in s for s in said])
    assert 0.55 < colour < 0.85 and 0.35 < style < 0.65, (colour, style)
    plain = [spec for spec in SPECS if spec.glasses == "none" and spec.hat == "none" and spec.expression == "neutral"]
    rng = np.random.default_rng(1)
    templates = sum(sample_caption(spec, rng) in ("a photo of a man", "a photo of a woman")
                    for spec in plain for _ in range(20))
    assert templates > 0


def test_the_order_of_phrases_varies_and_hair_moves():
    spec = PortraitSpec(identity=1, hair_colour="red", glasses="round", hat="hat", expression="smiling")
    rng = np.random.default_rng(2)
    captions = {sample_caption(spec, rng) for _ in range(300)}
    orders = {tuple(p for p in c.split(", ")[1:] if "hair" not in p) for c in captions}
    assert len({o for o in orders if len(o) == 3}) == 6  # all orders of glasses, hat, smiling
    assert any(" with red" in c.split(", ")[0] for c in captions)
    assert any(p.endswith("hair") for c in captions for p in c.split(", ")[1:])
    # Among the other phrases too, not only after them.
    assert any(c.split(", ")[1].endswith("hair") for c in captions)


@pytest.mark.parametrize("seed", [3, 4])
def test_no_caption_is_cut_by_the_tokenizer(seed):
    from freecure_edit.testing import tiny_clip_tokenizer

    tokenizer = tiny_clip_tokenizer()
    longest = max((c for _, c in _draws(per_spec=6, seed=seed)), key=len)
    assert len(longest) <= MAX_CHARS
    assert len(tokenizer(longest).input_ids) < tokenizer.model_max_length


def test_named_families_follow_the_rules_probabilities():
    from freecure_edit.toyworld.captions import CaptionRules

    spec = PortraitSpec(identity=0, glasses="sunglasses")
    rng = np.random.default_rng(5)
    never = CaptionRules(hair_colour=0.0, hair_style=0.0, absent=0.0)
    assert all(named_families(spec, rng, never) == ["glasses"] for _ in range(50))
    always = CaptionRules(hair_colour=1.0, hair_style=1.0, absent=1.0)
    assert named_families(spec, rng, always) == ["hair_colour", "hair_style", "glasses", "hat", "expression"]
