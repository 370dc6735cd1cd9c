"""The committed judges and parser on held-out drawings (their gates, on fewer samples)."""

from __future__ import annotations

import numpy as np
import pytest

from freecure_edit.toyworld.data import HELD_OUT_SEED_BASE, drawing_set
from freecure_edit.toyworld.judges import asked_attributes
from freecure_edit.toyworld.world import FAMILIES, PortraitSpec, draw


@pytest.fixture(scope="module")
def judges():
    from freecure_edit.toyworld.judges import load_judges

    return load_judges()


@pytest.fixture(scope="module")
def held_out():
    return drawing_set(64, HELD_OUT_SEED_BASE + 7000)


def test_the_attribute_judge_reads_held_out_drawings(judges, held_out):
    predicted = judges.attributes(held_out.images)
    accuracy = np.mean([[p[f] == getattr(s, f) for f in FAMILIES] for p, s in zip(predicted, held_out.specs)])
    assert accuracy >= 0.9


def test_prompt_consistency_counts_the_asked_attributes_the_judge_sees(judges):
    spec = PortraitSpec(identity=2, hair_colour="blonde", hair_style="curly", glasses="round")
    image = draw(spec, 9).image
    assert judges.attributes([image])[0] == spec.attributes(), "the judge must read this drawing right"
    assert judges.prompt_consistency(image, "a photo of a woman with blonde curly hair, round glasses") == 1.0
    assert judges.prompt_consistency(image, "a photo of a woman with red straight hair, sunglasses") == 0.0
    assert judges.prompt_consistency(image, "a photo of a woman with blonde hair, a hat") == 0.5
    sunglasses = draw(spec.with_changes(glasses="sunglasses"), 9).image
    assert judges.attributes([sunglasses])[0]["glasses"] == "sunglasses"
    assert judges.prompt_consistency(sunglasses, "a photo of a woman with glasses") == 1.0, "any kind of glasses"
    assert judges.prompt_consistency(sunglasses, "a photo of a woman with round glasses") == 0.0
    assert judges.prompt_consistency(image, "a photo of a woman") == 1.0
    assert asked_attributes("a photo of a man with red hair, without glasses, smiling") == {
        "hair_colour": "red", "glasses": "none", "expression": "smiling"}


def test_the_identity_judge_separates_identities(judges, held_out):
    embeddings = judges.identity_embeddings(held_out.images)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    cosine = embeddings @ embeddings.T
    ids = np.array([s.identity for s in held_out.specs])
    upper = np.triu(np.ones_like(cosine, dtype=bool), k=1)
    same = cosine[upper & (ids[:, None] == ids[None, :])]
    different = cosine[upper & (ids[:, None] != ids[None, :])]
    assert same.mean() > different.mean() + 0.3
    spec = PortraitSpec(identity=5)
    assert judges.identity_similarity(draw(spec, 1).image, draw(spec.with_changes(hair_colour="red"), 2).image) > \
        judges.identity_similarity(draw(spec, 1).image, draw(PortraitSpec(identity=6), 2).image)


def test_the_parser_finds_hair_glasses_and_skin(held_out):
    from freecure_edit.masks import load_parser
    from freecure_edit.toyworld.assets import model_dir
    from freecure_edit.toyworld.gates import parser_iou

    parser = load_parser("segformer", str(model_dir("parser")), device="cpu")
    iou = parser_iou(parser, count=24)
    assert min(iou.values()) >= 0.7, iou
