"""A single-file SD 1.5 checkpoint (original LDM key layout) loads through diffusers' real single-file path.

`write_sd15_single_file` turns the tiny diffusers pipeline into the kind of `.safetensors` file people
download for SD 1.5; `StableDiffusionPipeline.from_single_file(file, config=<diffusers folder>,
local_files_only=True)` must give back the very same weights and the very same images.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"


def _assert_same_state(original, loaded, name):
    expected = original.state_dict()
    got = loaded.state_dict()
    assert set(got) == set(expected), f"{name}: key sets differ: {sorted(set(got) ^ set(expected))[:10]}"
    for key, tensor in expected.items():
        other = got[key]
        assert other.device.type != "meta", f"{name}.{key} was never loaded"
        assert other.dtype == tensor.dtype, f"{name}.{key}: dtype {other.dtype} != {tensor.dtype}"
        assert other.shape == tensor.shape, f"{name}.{key}: shape {tuple(other.shape)} != {tuple(tensor.shape)}"
        assert torch.equal(other, tensor), f"{name}.{key} differs"


def _generate(pipe):
    out = pipe(
        "a portrait photo of a woman",
        num_inference_steps=2,
        height=32,
        width=32,
        output_type="np",
        generator=torch.Generator("cpu").manual_seed(1234),
    )
    return out.images


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    from diffusers import StableDiffusionPipeline

    from freecure_edit.testing import tiny_sd_pipeline
    from freecure_edit.testing.single_file import write_sd15_single_file

    root = tmp_path_factory.mktemp("single_file")
    pipe = tiny_sd_pipeline("smooth")
    folder = root / "diffusers"
    pipe.save_pretrained(str(folder), safe_serialization=True)
    # The folder is only the config: drop its weights, so every tensor has to come from the single file.
    weights = [p for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin")]
    assert {p.parent.name for p in weights} == {"unet", "vae", "text_encoder"}
    for p in weights:
        p.unlink()
    file = write_sd15_single_file(pipe, root / "tiny-sd15.safetensors")
    loaded = StableDiffusionPipeline.from_single_file(str(file), config=str(folder), local_files_only=True)
    loaded.set_progress_bar_config(disable=True)
    return pipe, file, loaded


def test_file_uses_the_original_ldm_layout(round_trip):
    from safetensors import safe_open

    _, file, _ = round_trip
    with safe_open(str(file), framework="pt") as f:
        keys = set(f.keys())
        q = f.get_tensor("first_stage_model.encoder.mid.attn_1.q.weight")
    prefixes = ("model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer.text_model.")
    assert all(k.startswith(prefixes) for k in keys), sorted(k for k in keys if not k.startswith(prefixes))
    for diffusers_name in ("down_blocks", "up_blocks", "mid_block", "resnets", "conv_shortcut", "time_embedding"):
        assert not any(diffusers_name in k for k in keys if not k.startswith("cond_stage_model.")), diffusers_name
    # The UNet's transformer blocks keep attn1.to_q (LDM names them so too); the VAE attention must not.
    assert not any(k.startswith("first_stage_model.") and ".to_" in k for k in keys)
    for key in (
        "model.diffusion_model.time_embed.0.weight",
        "model.diffusion_model.input_blocks.0.0.weight",
        "model.diffusion_model.input_blocks.1.0.in_layers.2.weight",
        "model.diffusion_model.input_blocks.2.0.op.weight",
        "model.diffusion_model.input_blocks.3.0.skip_connection.weight",
        "model.diffusion_model.input_blocks.3.1.transformer_blocks.0.attn2.to_k.weight",
        "model.diffusion_model.middle_block.1.proj_in.weight",
        "model.diffusion_model.middle_block.2.emb_layers.1.weight",
        "model.diffusion_model.output_blocks.1.2.conv.weight",
        "model.diffusion_model.out.2.weight",
        "first_stage_model.encoder.down.0.downsample.conv.weight",
        "first_stage_model.encoder.down.1.block.0.nin_shortcut.weight",
        "first_stage_model.decoder.up.1.upsample.conv.weight",
        "first_stage_model.decoder.mid.block_2.conv1.weight",
        "first_stage_model.encoder.norm_out.weight",
        "first_stage_model.quant_conv.weight",
        "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight",
        "cond_stage_model.transformer.text_model.encoder.layers.1.self_attn.q_proj.weight",
    ):
        assert key in keys, key
    assert q.ndim == 4 and q.shape[2:] == (1, 1)  # the LDM AttnBlock's q/k/v/proj_out are 1x1 convs


def test_from_single_file_loads_every_weight_exactly(round_trip):
    pipe, _, loaded = round_trip
    for name in ("unet", "vae", "text_encoder"):
        _assert_same_state(getattr(pipe, name), getattr(loaded, name), name)
    assert type(loaded.scheduler) is type(pipe.scheduler)


def test_from_single_file_generates_the_same_images(round_trip):
    pipe, _, loaded = round_trip
    expected = _generate(pipe)
    got = _generate(loaded)
    assert expected.shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(got, expected)


def test_mapping_follows_the_config_on_the_full_sd15_layout():
    """Four levels, two layers per block, attention on the first three: the real SD 1.5 block structure
    (narrow channels). diffusers' own LDM converters must give every tensor back, and the key names the
    real SD 1.5 file has (downsamplers, upsamplers, the "v1" marker key) must be where SD 1.5 has them."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import (
        CHECKPOINT_KEY_NAMES,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
        infer_diffusers_model_type,
    )

    from freecure_edit.testing.single_file import UNET_PREFIX, VAE_PREFIX, unet_to_ldm, vae_to_ldm

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 32, 64, 64),
        layers_per_block=2,
        sample_size=32,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 32, 64, 64),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        norm_num_groups=32,
    )
    checkpoint = {UNET_PREFIX + k: v for k, v in unet_to_ldm(unet).items()}
    checkpoint.update({VAE_PREFIX + k: v for k, v in vae_to_ldm(vae).items()})

    for key in (
        CHECKPOINT_KEY_NAMES["v1"],  # model.diffusion_model.output_blocks.11.0.skip_connection.weight
        "model.diffusion_model.input_blocks.3.0.op.weight",
        "model.diffusion_model.input_blocks.6.0.op.weight",
        "model.diffusion_model.input_blocks.9.0.op.weight",
        "model.diffusion_model.input_blocks.8.1.proj_in.weight",
        "model.diffusion_model.output_blocks.2.1.conv.weight",
        "model.diffusion_model.output_blocks.5.2.conv.weight",
        "model.diffusion_model.output_blocks.8.2.conv.weight",
        "model.diffusion_model.output_blocks.11.1.proj_out.weight",
        "first_stage_model.encoder.down.2.downsample.conv.weight",
        "first_stage_model.decoder.up.3.upsample.conv.weight",
        "first_stage_model.decoder.up.0.block.2.conv2.weight",
    ):
        assert key in checkpoint, key
    blocks = {".".join(k.split(".")[2:5]) for k in checkpoint if k.startswith(UNET_PREFIX)}
    # SD 1.5: input_blocks 1..11, attention on the first three levels only; output_blocks 0..11.
    assert {b for b in blocks if b.startswith("input_blocks.")} == {
        f"input_blocks.{i}.{j}"
        for i, j in [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (4, 0), (4, 1), (5, 0), (5, 1), (6, 0)]
        + [(7, 0), (7, 1), (8, 0), (8, 1), (9, 0), (10, 0), (11, 0)]
    }
    assert {b for b in blocks if b.startswith("output_blocks.")} == {
        f"output_blocks.{i}.{j}"
        for i, j in [(0, 0), (1, 0), (2, 0), (2, 1)]
        + [(i, j) for i in range(3, 12) for j in (0, 1)]
        + [(5, 2), (8, 2)]
    }
    assert infer_diffusers_model_type(checkpoint) == "v1"

    for model, convert in ((unet, convert_ldm_unet_checkpoint), (vae, convert_ldm_vae_checkpoint)):
        back = convert(checkpoint, dict(model.config))
        expected = model.state_dict()
        assert set(back) == set(expected), sorted(set(back) ^ set(expected))[:10]
        for key, tensor in expected.items():
            assert torch.equal(back[key], tensor), key
