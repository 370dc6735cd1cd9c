"""Which layers FASA acts on, their grids, and the mask bias each of them gets."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import UNet2DConditionModel

import freecure_edit.attention.controller as controller_module
from freecure_edit.attention import AttentionController, default_fasa_layers, default_omega
from freecure_edit.attention import up_path_self_attention_layers
from freecure_edit.attention.grids import layer_grid, resize_mask_to_grid
from freecure_edit.errors import ConfigurationError
from freecure_edit.testing import tiny_sd_pipeline, tiny_sdxl_pipeline


def _narrow(**structure) -> UNet2DConditionModel:
    # A released model's block structure (which names layers and decides FASA's set) at width 32, so
    # the test builds it in milliseconds instead of allocating gigabytes.
    widths = (32,) * len(structure["down_block_types"])
    return UNet2DConditionModel(
        block_out_channels=widths, norm_num_groups=32, cross_attention_dim=32, attention_head_dim=8,
        **structure,
    )


def full_structure_sd15() -> UNet2DConditionModel:
    return _narrow(
        layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    )


def full_structure_sdxl() -> UNet2DConditionModel:
    return _narrow(
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=8 * 6 + 32,
    )


def _self_attention(block: int, attention: int, transformer: int) -> str:
    return f"up_blocks.{block}.attentions.{attention}.transformer_blocks.{transformer}.attn1.processor"


def test_sd15_gets_the_authors_six_blocks_of_up_blocks_2_and_3() -> None:
    unet = full_structure_sd15()
    assert len(up_path_self_attention_layers(unet)) == 9
    expected = [_self_attention(block, attention, 0) for block in (2, 3) for attention in range(3)]
    assert default_fasa_layers(unet) == expected


def test_sdxl_gets_the_authors_last_twenty_of_thirty_six() -> None:
    unet = full_structure_sdxl()
    up_path = up_path_self_attention_layers(unet)
    assert len(up_path) == 36
    last_14_of_up_blocks_0 = [_self_attention(0, 1, t) for t in range(6, 10)]
    last_14_of_up_blocks_0 += [_self_attention(0, 2, t) for t in range(10)]
    all_of_up_blocks_1 = [_self_attention(1, a, t) for a in range(3) for t in range(2)]
    assert default_fasa_layers(unet) == last_14_of_up_blocks_0 + all_of_up_blocks_1


def test_up_path_layers_come_in_execution_order_not_name_order() -> None:
    # Sorting names as text would put attentions.10 before attentions.2; execution order is numeric.
    names = up_path_self_attention_layers(full_structure_sdxl())
    assert names.index(_self_attention(0, 0, 9)) < names.index(_self_attention(0, 1, 0))
    assert names.index(_self_attention(0, 2, 9)) < names.index(_self_attention(1, 0, 0))


@pytest.mark.parametrize("build", [tiny_sd_pipeline, tiny_sdxl_pipeline])
def test_tiny_models_get_a_non_empty_tail_of_their_up_path(build) -> None:
    unet = build().unet
    up_path = up_path_self_attention_layers(unet)
    layers = default_fasa_layers(unet)
    # Other shapes get the up-path layers at half the latent grid or finer: here both up blocks.
    assert layers == up_path and len(layers) >= 1


def test_other_shapes_leave_out_layers_coarser_than_half_the_latent() -> None:
    # Four up blocks with attention at latent/8, /4, /2 and /1: the first two are left out (SD 1.x's
    # choice by grid), where the last 60% would have kept one of up_blocks.1.
    unet = _narrow(
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D",) * 4,
        up_block_types=("CrossAttnUpBlock2D",) * 4,
    )
    up_path = up_path_self_attention_layers(unet)
    assert len(up_path) == 8
    assert default_fasa_layers(unet) == [name for name in up_path if name.startswith(("up_blocks.2.", "up_blocks.3."))]


def test_other_shapes_get_at_least_one_layer() -> None:
    unet = _narrow(
        layers_per_block=0,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    )
    assert len(up_path_self_attention_layers(unet)) == 1
    assert default_fasa_layers(unet) == up_path_self_attention_layers(unet)


def test_a_unet_without_up_path_attention_has_no_fasa_layers() -> None:
    unet = _narrow(
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )
    with pytest.raises(ConfigurationError):
        default_fasa_layers(unet)


def test_the_controller_refuses_an_empty_or_cross_attention_selection() -> None:
    unet = tiny_sd_pipeline().unet
    with pytest.raises(ConfigurationError):
        AttentionController(unet, [], latent_size=(8, 8))
    cross = "up_blocks.0.attentions.0.transformer_blocks.0.attn2.processor"
    with pytest.raises(ConfigurationError):
        AttentionController(unet, [cross], latent_size=(8, 8))
    with pytest.raises(ConfigurationError):
        AttentionController(unet, ["up_blocks.9.attn1.processor"], latent_size=(8, 8))


def test_default_omega_is_the_authors() -> None:
    assert default_omega(tiny_sd_pipeline().unet) == 0.5
    assert default_omega(tiny_sdxl_pipeline().unet) == 1.5


def test_grids_follow_the_strided_convolutions_rounding_up() -> None:
    # A 5x7 latent goes 5x7 -> 3x4 -> 2x2 -> 1x1 through stride-2 convolutions with padding 1.
    assert layer_grid(35, (5, 7)) == (5, 7)
    assert layer_grid(12, (5, 7)) == (3, 4)
    assert layer_grid(4, (5, 7)) == (2, 2)
    assert layer_grid(1, (5, 7)) == (1, 1)
    with pytest.raises(ValueError):
        layer_grid(6, (5, 7))


def test_a_mask_is_averaged_over_each_cell_of_a_grid() -> None:
    mask = torch.zeros(4, 6)
    mask[0, 0] = 1.0
    mask[2:4, 4:6] = 1.0
    expected = torch.tensor([[0.25, 0.0, 0.0], [0.0, 0.0, 1.0]]).reshape(-1)
    assert torch.equal(resize_mask_to_grid(mask, (2, 3)), expected)


def test_a_one_hot_mask_on_a_non_square_latent_biases_exactly_the_expected_keys(monkeypatch) -> None:
    unet = full_structure_sd15()
    layers = default_fasa_layers(unet)  # up_blocks.2 at 3x5, up_blocks.3 at 6x10 for a 6x10 latent
    seen_biases: list[torch.Tensor] = []
    fasa_attention = controller_module.fasa_attention

    def spy(query, key, value, fd_key, fd_value, fd_bias, slice_size=None, mix=1.0):
        seen_biases.append(fd_bias.clone())
        return fasa_attention(query, key, value, fd_key, fd_value, fd_bias, slice_size, mix)

    controller = AttentionController(unet, layers, latent_size=(6, 10))
    latents = torch.randn(1, 4, 6, 10, generator=torch.Generator().manual_seed(0))
    states = torch.randn(1, 7, 32, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(6, 10)
    mask[4, 7] = 1.0
    omega = 0.5
    with torch.no_grad(), controller.installed():
        controller.step = 0
        controller.record(fd_cond_row=0)
        unet(latents, 10, encoder_hidden_states=states)
        controller.inject(pd_cond_rows=[0], mask=mask, omega=omega)
        monkeypatch.setattr(controller_module, "fasa_attention", spy)
        unet(latents, 10, encoder_hidden_states=states)

    # Latent (4, 7) lies in cell (2, 3) of the 3x5 grid, a quarter of that cell; in the 6x10 grid it is
    # cell (4, 7) itself.
    expected_key = {15: (2 * 5 + 3, omega + math.log(0.25)), 60: (4 * 10 + 7, omega)}
    assert len(seen_biases) == len(layers) == 6
    assert [bias.numel() for bias in seen_biases] == [15] * 3 + [60] * 3
    for bias in seen_biases:
        position, value = expected_key[bias.numel()]
        finite = torch.isfinite(bias).nonzero().flatten().tolist()
        assert finite == [position]
        assert abs(bias[position].item() - value) < 1e-6
        assert torch.isneginf(bias[torch.arange(bias.numel()) != position]).all()
