"""The toy world's drawings, captions and prompts: properties of the procedural generator."""

from __future__ import annotations

import numpy as np
import pytest

from freecure_edit.prompts import parse_prompt
from freecure_edit.toyworld.data import drawing_set
from freecure_edit.toyworld.gates import roc_auc
from freecure_edit.toyworld.judges import asked_attributes
from freecure_edit.toyworld.world import (
    FAMILIES, IDENTITIES, LABEL, LABEL_NAMES, PortraitSpec, caption_for, draw, prompt_for, sample_spec,
)


def test_a_drawing_is_deterministic_from_its_seed_and_jittered_across_seeds():
    spec = PortraitSpec(identity=5, hair_colour="red", glasses="round")
    first, again = draw(spec, seed=11), draw(spec, seed=11)
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    assert np.array_equal(first.labels, again.labels)

    centres = []
    for seed in range(8):
        skin = draw(spec, seed).labels == LABEL["skin"]
        ys, xs = np.nonzero(skin)
        centres.append((xs.mean(), ys.mean(), skin.sum()))
    centres = np.array(centres)
    assert np.ptp(centres[:, 0]) > 2 and np.ptp(centres[:, 1]) > 2, "the face must not sit on a fixed pixel"
    assert np.ptp(centres[:, 2]) > 0.1 * centres[:, 2].mean(), "the face's scale must vary"


def test_image_and_label_map_have_the_requested_size_and_valid_labels():
    drawing = draw(sample_spec(np.random.default_rng(0)), seed=3, size=96)
    assert drawing.image.size == (96, 96) and drawing.image.mode == "RGB"
    assert drawing.labels.shape == (96, 96) and drawing.labels.dtype == np.uint8
    assert drawing.labels.max() < len(LABEL_NAMES)
    assert LABEL_NAMES[:4] == ("background", "skin", "nose", "eye_g")


@pytest.mark.parametrize("family,value,label,present", [
    ("glasses", "round", "eye_g", True), ("glasses", "sunglasses", "eye_g", True), ("glasses", "none", "eye_g", False),
    ("hat", "hat", "hat", True), ("hat", "none", "hat", False),
    ("expression", "surprised", "mouth", True), ("expression", "smiling", "mouth", True),
    ("expression", "neutral", "mouth", False),
])
def test_label_maps_show_exactly_the_drawn_attributes(family, value, label, present):
    for identity in (0, 7):
        labels = draw(PortraitSpec(identity=identity, **{family: value}), seed=identity).labels
        assert ((labels == LABEL[label]).sum() > 4) == present


def test_every_drawing_has_hair_skin_eyes_and_lips():
    for drawing_labels in drawing_set(12, seed=500).labels:
        for label in ("hair", "skin", "nose"):
            assert (drawing_labels == LABEL[label]).sum() > 4, label
        assert np.isin(drawing_labels, [LABEL["u_lip"], LABEL["l_lip"]]).sum() > 4


def test_hair_colour_is_the_drawn_colour():
    def hair_rgb(colour):
        drawing = draw(PortraitSpec(identity=2, hair_colour=colour), seed=4)
        return np.asarray(drawing.image)[drawing.labels == LABEL["hair"]].mean(axis=0)

    red, black, blonde = hair_rgb("red"), hair_rgb("black"), hair_rgb("blonde")
    assert red[0] > red[2] + 80 and black.max() < 90 and blonde.mean() > 140


def test_identities_differ_in_shape_and_tone():
    from freecure_edit.toyworld.world import _identity

    people = [_identity(i) for i in range(IDENTITIES)]
    assert len({p.skin for p in people}) == IDENTITIES
    assert len({(round(p.face_w, 3), round(p.eye_spacing, 3), round(p.jaw, 3)) for p in people}) == IDENTITIES


def test_the_project_prompt_parser_reads_captions_into_the_right_attributes():
    spec = PortraitSpec(identity=0, hair_colour="red", hair_style="curly", glasses="round", expression="smiling", hat="hat")
    caption = caption_for(spec)
    assert caption == "a photo of a woman with red curly hair, round glasses, a hat, smiling"
    parsed = parse_prompt(caption)
    assert parsed.template == "a photo of a woman"
    found = {a.name: a for a in parsed.attributes}
    assert found["hair"].labels == ("hair",)
    assert found["glasses"].labels == ("eye_g",)
    assert found["hat"].labels == ("hat",)
    assert found["expression"].kind == "abstract"
    sunglasses = parse_prompt(caption_for(spec.with_changes(glasses="sunglasses", expression="surprised")))
    assert {a.labels for a in sunglasses.attributes if a.kind == "spatial"} == {("hair",), ("eye_g",), ("hat",)}
    assert [a.kind for a in sunglasses.attributes if a.name == "expression"] == ["abstract"]


def test_every_caption_fits_clip_and_parses_to_its_spec():
    from freecure_edit.testing import tiny_clip_tokenizer

    tokenizer = tiny_clip_tokenizer()
    rng = np.random.default_rng(1)
    for _ in range(60):
        spec = sample_spec(rng)
        caption = caption_for(spec)
        assert len(tokenizer(caption).input_ids) <= tokenizer.model_max_length, caption
        asked = asked_attributes(caption)
        shown = {f: v for f, v in spec.attributes().items() if v not in ("none", "neutral")}
        assert asked == shown, caption


def test_prompt_for_asks_only_the_chosen_families_and_removals_read_as_removals():
    spec = PortraitSpec(identity=1, hair_colour="blonde", glasses="none", expression="smiling")
    assert prompt_for(spec, ["hair_colour"]) == "a photo of a man with blonde hair"
    assert prompt_for(spec, ["expression"]) == "a photo of a man, smiling"
    without = parse_prompt(prompt_for(spec, ["glasses"]))
    assert [(a.name, a.remove) for a in without.attributes] == [("glasses", True)]
    assert asked_attributes(prompt_for(spec, ["glasses", "hat"])) == {"glasses": "none", "hat": "none"}
    with pytest.raises(ValueError):
        prompt_for(spec, ["beard"])


def test_sample_spec_respects_fixed_values_and_rejects_unknown_ones():
    rng = np.random.default_rng(3)
    specs = [sample_spec(rng, hair_colour="red", glasses="none") for _ in range(20)]
    assert all(s.hair_colour == "red" and s.glasses == "none" for s in specs)
    assert len({s.identity for s in specs}) > 1
    for family, values in FAMILIES.items():
        assert {getattr(sample_spec(rng), family) for _ in range(200)} == set(values)
    with pytest.raises(ValueError):
        PortraitSpec(identity=0, hair_colour="green")
    with pytest.raises(ValueError):
        PortraitSpec(identity=IDENTITIES)


def test_roc_auc_of_separated_reversed_and_tied_scores():
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2, 0.3])) == 1.0
    assert roc_auc(np.array([0.1]), np.array([0.5, 0.6])) == 0.0
    assert roc_auc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5


@pytest.mark.parametrize("model", ["sd", "flux"])
def test_the_committed_toy_models_load_and_run_in_plain_diffusers(model):
    """As any diffusers folder: DiffusionPipeline.from_pretrained without a dtype, then one call. The
    text encoders' configs say fp32 (transformers 5 loads the dtype a config names), like the UNet's."""
    import torch
    from diffusers import DiffusionPipeline

    from freecure_edit.toyworld import model_dir

    folder = model_dir("sd") if model == "sd" else model_dir("sd").parent / "flux"
    pipe = DiffusionPipeline.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    encoders = [pipe.text_encoder] + ([pipe.text_encoder_2] if model == "flux" else [])
    assert {encoder.dtype for encoder in encoders} == {torch.float32}
    extra = {"max_sequence_length": pipe.tokenizer_2.model_max_length} if model == "flux" else {}
    image = pipe("a photo of a man with red hair", num_inference_steps=2, height=64, width=64,
                 generator=torch.Generator().manual_seed(0), **extra).images[0]
    assert image.size == (64, 64)
