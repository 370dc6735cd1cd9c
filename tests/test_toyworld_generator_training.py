"""The toy generator's training aids: loss weights around the small parts, captions that name some families."""

from __future__ import annotations

import torch

from freecure_edit.toyworld.judges import asked_attributes
from freecure_edit.toyworld.train_generator import batch_tokens, detail_weights, edge_loss, fresh_caption_tokens
from freecure_edit.toyworld.world import LABEL, PortraitSpec, caption_for, draw


def test_detail_weights_cover_glasses_and_mouth_and_leave_the_background_alone():
    drawing = draw(PortraitSpec(identity=3, glasses="sunglasses", expression="smiling"), seed=5)
    labels = torch.from_numpy(drawing.labels)[None]
    weights = detail_weights(labels, 16, 4.0)[0, 0]
    assert weights.shape == (16, 16)
    assert set(weights.unique().tolist()) == {1.0, 5.0}
    for name in ("eye_g", "mouth"):
        rows, cols = torch.nonzero(labels[0] == LABEL[name], as_tuple=True)
        assert (weights[rows // 4, cols // 4] == 5.0).all(), name
    background_cells = torch.nn.functional.avg_pool2d((labels == LABEL["background"]).float()[None], 4)[0, 0]
    assert (weights[background_cells == 1] == 1.0).any()
    hair_only = torch.nn.functional.avg_pool2d((labels == LABEL["hair"]).float()[None], 4)[0, 0] == 1
    assert (weights[hair_only] == 1.0).any()
    assert (detail_weights(labels, 16, 0.0) == 1).all()
    # Labels left out get no weight: the mouth alone leaves the glasses' cells at 1.
    mouth_only = detail_weights(labels, 16, 4.0, names=("mouth",))[0, 0]
    rows, cols = torch.nonzero(labels[0] == LABEL["eye_g"], as_tuple=True)
    assert (mouth_only[rows // 4, cols // 4] == 1.0).any() and (mouth_only == 5.0).any()


def test_batch_tokens_cut_a_share_of_captions_to_their_template_and_keep_the_stream_without():
    from freecure_edit.testing import tiny_clip_tokenizer
    from freecure_edit.toyworld.world import prompt_for

    tokenizer = tiny_clip_tokenizer()
    specs = [PortraitSpec(identity=i, hair_colour="red", glasses="round") for i in range(4)]

    def ids(texts):
        return tokenizer(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids

    captions, templates, empty = ids([caption_for(s) for s in specs]), ids([prompt_for(s, []) for s in specs]), ids([""])[0]
    index = torch.arange(4).repeat(100)

    def rows(share, seed=0):
        return batch_tokens(captions, templates, empty, index, torch.Generator().manual_seed(seed),
                            torch.Generator().manual_seed(seed + 1), share)

    def kinds(tokens):
        return [("empty" if (row == empty).all() else "template" if (row == templates[i]).all()
                 else "caption" if (row == captions[i]).all() else "other") for row, i in zip(tokens, index)]

    without = kinds(rows(0.0))
    assert set(without) == {"caption", "empty"} and 20 < without.count("empty") < 60
    half = kinds(rows(0.5))
    assert "other" not in half and 150 < half.count("template") < 250
    assert set(kinds(rows(1.0))) == {"template", "empty"}
    # The empty rows come from the main generator alone, so adding templates leaves them where they were.
    assert [k == "empty" for k in half] == [k == "empty" for k in without]
    assert prompt_for(specs[1], []) == "a photo of a man" and not asked_attributes(prompt_for(specs[1], []))


def test_train_unet_with_both_aids_hands_out_the_averaged_weights_at_its_checkpoints():
    from diffusers import AutoencoderKL

    from freecure_edit.toyworld import architectures
    from freecure_edit.toyworld.data import drawing_set
    from freecure_edit.toyworld.train_generator import encode, train_unet

    torch.manual_seed(0)
    vae = AutoencoderKL(**architectures.vae_config()).eval()
    data = drawing_set(8, 0)
    seen = {}

    def keep(step, unet, text_encoder):
        seen[step] = (torch.cat([p.flatten() for p in unet.parameters()]), text_encoder)

    unet, text_encoder, _ = train_unet(vae, data, 3, seed=0, batch=4, log=lambda _: None, latents=encode(vae, data.pixels()),
                                       text_steps=1, detail_weight=6.0, template_share=0.5,
                                       checkpoints={1, 3}, on_checkpoint=keep)
    assert sorted(seen) == [1, 3]
    final = torch.cat([p.flatten() for p in unet.parameters()])
    assert torch.equal(seen[3][0], final) and not torch.equal(seen[1][0], final)
    assert seen[3][1] is not text_encoder and not seen[3][1].training


def test_fresh_caption_tokens_draw_a_new_partial_caption_at_every_step():
    import numpy as np

    from freecure_edit.testing import tiny_clip_tokenizer
    from freecure_edit.toyworld.captions import RULES

    tokenizer = tiny_clip_tokenizer()

    def ids(texts):
        return tokenizer(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids

    specs = [PortraitSpec(identity=1, hair_colour="red", glasses="round", hat="hat")]
    index = torch.zeros(200, dtype=torch.long)
    empty = ids([""])[0]
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    tokens = fresh_caption_tokens(specs, index, ids, empty, generator, rng, RULES)
    texts = [tokenizer.decode(row, skip_special_tokens=True) for row in tokens]
    empties = sum((row == empty).all().item() for row in tokens)
    assert 5 < empties < 40  # CFG_DROPOUT of 200
    said = [asked_attributes(t) for t in texts if t]
    assert all(s["glasses"] == "round" and s["hat"] == "hat" for s in said)
    assert 20 < len({t for t in texts if t}) and any("hair_colour" not in s for s in said)
    again = fresh_caption_tokens(specs, index, ids, empty, torch.Generator().manual_seed(0), rng, RULES)
    assert not torch.equal(again, tokens)  # the caption stream moves on; the same drawing reads anew


def test_edge_loss_is_zero_for_the_same_image_and_grows_with_blur():
    drawing = torch.from_numpy(__import__("numpy").array(draw(PortraitSpec(identity=4, glasses="round"), 3).image))
    image = drawing.permute(2, 0, 1)[None].float() / 127.5 - 1
    soft = torch.nn.functional.avg_pool2d(image, 3, stride=1, padding=1, count_include_pad=False)
    softer = torch.nn.functional.avg_pool2d(soft, 3, stride=1, padding=1, count_include_pad=False)
    assert edge_loss(image, image) == 0
    assert 0 < edge_loss(soft, image) < edge_loss(softer, image)
    # A uniform shift of brightness costs the pixel loss, not the edge loss.
    assert edge_loss(image + 0.2, image) < 1e-6


def test_head_footprints_are_the_same_with_or_without_a_hat_and_either_hair_style():
    # The footprint weight must not depend on the answer the caption gives (hat, hair style), or the
    # weighted loss would lean toward the answer that carries the weight, as the hat label's did.
    from freecure_edit.toyworld.train_generator import cell_weights, head_footprints

    seed = 11
    plain = PortraitSpec(identity=4, hair_colour="red", hair_style="straight")
    variants = [plain, plain.with_changes(hat="hat"), plain.with_changes(hair_style="curly", hat="hat")]
    # head_footprints redraws drawing k with seed seed_base + k: give every variant the same seed.
    footprints = [head_footprints([spec], seed_base=seed)[0] for spec in variants]
    assert all((f == footprints[0]).all() for f in footprints[1:])
    for spec in variants:
        labels = draw(spec, seed).labels
        for name in ("hat", "hair"):
            assert footprints[0][labels == LABEL[name]].all(), (spec, name)
    assert not footprints[0][draw(plain, seed).labels == LABEL["mouth"]].any()
    weights = cell_weights(footprints[0][None], 16, 3.0)
    assert weights.shape == (1, 1, 16, 16) and set(weights.unique().tolist()) == {0.0, 3.0}


def test_train_unet_goes_on_from_given_models_with_the_footprint_weight():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    from freecure_edit.toyworld import architectures
    from freecure_edit.toyworld.data import drawing_set
    from freecure_edit.toyworld.train_generator import encode, train_unet

    torch.manual_seed(0)
    vae = AutoencoderKL(**architectures.vae_config()).eval()
    data = drawing_set(4, 0)
    unet, text_encoder = UNet2DConditionModel(**architectures.unet_config()), CLIPTextModel(architectures.text_config())
    before = torch.cat([p.detach().flatten().clone() for p in unet.parameters()])
    trained, trained_text, _ = train_unet(vae, data, 2, seed=0, batch=2, log=lambda _: None,
                                          latents=encode(vae, data.pixels()), text_steps=0, start_from=(unet, text_encoder),
                                          footprint_weight=4.0, footprint_seed_base=0)
    assert trained is unet and trained_text is text_encoder
    assert not torch.equal(before, torch.cat([p.detach().flatten() for p in trained.parameters()]))
    try:
        train_unet(vae, data, 1, seed=0, batch=2, log=lambda _: None, text_steps=0, footprint_weight=4.0)
    except ValueError as error:
        assert "footprint_seed_base" in str(error)
    else:
        raise AssertionError("a footprint weight without the drawings' seed must be refused")
