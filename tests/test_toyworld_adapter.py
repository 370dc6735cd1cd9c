"""The toy IP-Adapter FaceID: its file layout is the one diffusers' `load_ip_adapter` reads, its training
command runs end to end, and the committed weights load and run through diffusers' own pipeline call."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from freecure_edit.generation import faceid_layout
from freecure_edit.toyworld import train_adapter
from freecure_edit.toyworld.assets import WEIGHTS_DIR

COMMITTED = {"plain": WEIGHTS_DIR / "adapters" / "faceid", "plusv2": WEIGHTS_DIR / "adapters" / "faceid-plusv2"}


@pytest.fixture
def toy_pipe():
    torch.set_num_threads(1)
    return train_adapter.load_base()


def _embeds(embedding: torch.Tensor) -> list[torch.Tensor]:
    # diffusers' layout for ip_adapter_image_embeds with guidance: (2, images, dim), [negative; positive],
    # per reference; the pipeline repeats it for every image of the batch.
    return [torch.cat([torch.zeros_like(embedding), embedding])[:, None]]


def _sdxl_like_unet():
    from diffusers import UNet2DConditionModel

    # Two transformer layers per block, as SDXL has: attn1/attn2 still alternate within each block.
    return UNet2DConditionModel(
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), transformer_layers_per_block=(1, 2),
        cross_attention_dim=64, attention_head_dim=(2, 4), addition_embed_type="text_time",
        addition_time_embed_dim=8, projection_class_embeddings_input_dim=8 * 6 + 32, layers_per_block=1,
        norm_num_groups=8, sample_size=8, use_linear_projection=True)


def test_cross_attention_keys_are_the_processors_positions_on_the_toy_and_an_sdxl_like_unet(toy_pipe):
    for unet in (toy_pipe.unet, _sdxl_like_unet()):
        names = list(unet.attn_processors)
        keys = faceid_layout.cross_attention_keys(names)
        assert keys and all(names[key] == name for name, key in keys.items())
        assert all(not name.endswith("attn1.processor") for name in keys)
        # Loading a state dict for it through diffusers' UNet loader puts each to_k_ip where it was written.
        state = faceid_layout.faceid_state_dict(unet, 16, seed=1)
        split = {"image_proj": {k.removeprefix("image_proj."): v for k, v in state.items() if k.startswith("image_proj.")},
                 "ip_adapter": {k.removeprefix("ip_adapter."): v for k, v in state.items() if k.startswith("ip_adapter.")}}
        unet._load_ip_adapter_weights([split])
        for name, key in keys.items():
            assert torch.equal(unet.attn_processors[name].to_k_ip[0].weight, state[f"ip_adapter.{key}.to_k_ip.weight"])


def test_a_unet_whose_processors_do_not_alternate_is_refused():
    from diffusers import UNet2DConditionModel

    # A simple-cross-attention mid block has one processor (not attn1/attn2), so the alternation breaks.
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        cross_attention_dim=64, attention_head_dim=8, layers_per_block=1, norm_num_groups=8, sample_size=8)
    with pytest.raises(ValueError, match="diffusers reads its weights as number 7"):
        faceid_layout.faceid_state_dict(unet, 16)


@pytest.mark.parametrize("kind", ["plain", "plus"])
def test_layout_round_trips_through_diffusers_loader(toy_pipe, tmp_path, kind):
    from diffusers.models.embeddings import IPAdapterFaceIDImageProjection, IPAdapterFaceIDPlusImageProjection

    if kind == "plain":
        state = faceid_layout.faceid_state_dict(toy_pipe.unet, 32, seed=3, zero_lora_up=False)
    else:
        state = faceid_layout.faceid_plus_state_dict(toy_pipe.unet, 32, 96, seed=3, zero_lora_up=False)
    assert {k for k in state if "lora" in k} and {k for k in state if "to_k_ip" in k}
    faceid_layout.load_faceid_into(toy_pipe, faceid_layout.save_faceid(state, tmp_path / "a.safetensors"))
    expected = IPAdapterFaceIDImageProjection if kind == "plain" else IPAdapterFaceIDPlusImageProjection
    assert type(faceid_layout.image_projection(toy_pipe)) is expected
    exported = faceid_layout.exported_faceid_state_dict(toy_pipe)
    assert set(exported) == set(state)
    for key, value in state.items():
        assert torch.equal(exported[key], value), key


def test_drop_rates_are_ip_adapters():
    settings = train_adapter.Settings()
    no_embedding, no_text = train_adapter.drop_masks(200_000, torch.Generator().manual_seed(0), settings)
    both = (no_embedding & no_text).float().mean().item()
    assert abs((no_embedding & ~no_text).float().mean().item() - settings.drop_embedding) < 0.003
    assert abs((no_text & ~no_embedding).float().mean().item() - settings.drop_text) < 0.003
    assert abs(both - settings.drop_both) < 0.003


def _check_folder(folder, toy_pipe, weight_name):
    manifest = json.loads((folder / "manifest.json").read_text())
    weights = folder / weight_name
    assert manifest["files"] == {weight_name: hashlib.sha256(weights.read_bytes()).hexdigest()}
    faceid_layout.load_faceid_into(toy_pipe, weights)
    return manifest


@pytest.mark.parametrize("plus", [False, True])
def test_quick_training_runs_end_to_end(tmp_path, toy_pipe, plus):
    out = tmp_path / "adapter"
    assert train_adapter.main([str(out), "--quick"] + (["--plus"] if plus else [])) == 0
    assert not (tmp_path / "adapter.partial").exists()
    settings = train_adapter.QUICK_PLUS if plus else train_adapter.QUICK
    manifest = _check_folder(out, toy_pipe, settings.weight_name)
    assert manifest["settings"] == json.loads(json.dumps(train_adapter.asdict(settings)))
    assert set(manifest["held_out_loss"]) == {"own", "zeros", "other_identity"}
    # The trained tensors moved away from the initial ones (the LoRA's up matrices start at zero).
    exported = faceid_layout.exported_faceid_state_dict(toy_pipe)
    assert any(v.abs().max() > 0 for k, v in exported.items() if k.endswith("lora.up.weight"))
    assert train_adapter.main([str(out), "--quick"]) == 2  # refuses to replace without --overwrite


@pytest.mark.parametrize("kind", ["plain", "plusv2"])
def test_committed_weights_load_and_run_in_diffusers_pipeline_call(toy_pipe, kind):
    from freecure_edit.toyworld.judges import load_judges
    from freecure_edit.toyworld.world import PortraitSpec, draw

    settings = train_adapter.PLUS if kind == "plusv2" else train_adapter.Settings()
    _check_folder(COMMITTED[kind], toy_pipe, settings.weight_name)
    judges = load_judges()
    reference = [draw(PortraitSpec(identity=3), seed=5).image]
    embedding = torch.from_numpy(judges.identity_embeddings(reference))

    def generate(embedding, features=None):
        if kind == "plusv2":
            # One row per UNet row: the negative row gets the dropped (all-zero image) features.
            train_adapter.use_image_features(toy_pipe, torch.cat([train_adapter.image_features(judges), features]))
        return toy_pipe(["a photo of a man"], ip_adapter_image_embeds=_embeds(embedding), num_inference_steps=4,
                        guidance_scale=5.0, generator=torch.Generator().manual_seed(0), output_type="np").images

    features = train_adapter.image_features(judges, reference) if kind == "plusv2" else None
    with_identity = generate(embedding, features)
    without = generate(torch.zeros_like(embedding), train_adapter.image_features(judges) if features is not None else None)
    assert with_identity.shape == (1, 64, 64, 3)
    # The identity embedding (and a Plus adapter's image features) reach the image through the adapter.
    assert abs(with_identity - without).mean() > 1e-3
