"""FASA in FLUX's joint attention: what it may change, what it must not, and where the mask lands."""

from __future__ import annotations

import pytest
import torch

from freecure_edit import CureConfig
from freecure_edit.attention.flux_controller import FluxAttentionController, flux_controller_for
from freecure_edit.attention.flux_layers import default_flux_fasa_layers, flux_attention_layers
from freecure_edit.attention.flux_processor import JointAttentionCall, plain_joint_attention
from freecure_edit.backbones import backbone_for
from freecure_edit.backbones.flux import pack_latents
from freecure_edit.errors import ConfigurationError
from freecure_edit.testing.flux import tiny_flux_transformer

LATENT = (8, 12)  # non-square: a 4 x 6 grid of packed tokens
IMAGE_TOKENS = 24
TEXT_TOKENS = 5
HEADS, HEAD_DIM = 2, 16


@pytest.fixture(scope="module")
def transformer():
    return tiny_flux_transformer("dev", num_layers=1, num_single_layers=4)


def joint_call(name: str, rows: int, seed: int) -> JointAttentionCall:
    generator = torch.Generator().manual_seed(seed)
    shape = (rows, TEXT_TOKENS + IMAGE_TOKENS, HEADS, HEAD_DIM)
    q, k, v = (torch.randn(shape, generator=generator) for _ in range(3))
    return JointAttentionCall(name, None, q, k, v, None)


def recorded_controller(transformer, layer: str, fd_call: JointAttentionCall) -> FluxAttentionController:
    controller = FluxAttentionController(transformer, [layer], LATENT)
    controller.record(fd_cond_row=0)
    controller.step = 0
    controller.attend_joint(fd_call)
    return controller


def test_the_default_blocks_are_the_second_half_of_the_single_stream_blocks(transformer):
    layers = flux_attention_layers(transformer)
    assert layers[0] == "transformer_blocks.0.attn.processor"
    assert default_flux_fasa_layers(transformer) == [
        f"single_transformer_blocks.{i}.attn.processor" for i in (2, 3)
    ]


def test_fasa_changes_only_pd_image_query_rows(transformer):
    layer = "single_transformer_blocks.3.attn.processor"
    controller = recorded_controller(transformer, layer, joint_call(layer, 1, seed=1))
    mask = torch.zeros(16, 24)
    mask[4:12, 6:18] = 1.0
    controller.inject(pd_cond_rows=[0], mask=mask, omega=2.0)
    call = joint_call(layer, 2, seed=2)  # row 0 is PD, row 1 anything else in the batch

    out = controller.attend_joint(call)
    plain = plain_joint_attention(call)

    assert torch.equal(out[1], plain[1]), "other rows are plain attention, bit for bit"
    assert torch.allclose(out[0, :TEXT_TOKENS], plain[0, :TEXT_TOKENS], atol=1e-6), "PD's text queries stay"
    changed = (out[0, TEXT_TOKENS:] - plain[0, TEXT_TOKENS:]).abs().amax(dim=(1, 2))
    assert bool((changed > 1e-3).all()), "every PD image query sees the masked FD keys"


def test_other_layers_are_plain(transformer):
    layer, other = "single_transformer_blocks.3.attn.processor", "single_transformer_blocks.0.attn.processor"
    controller = recorded_controller(transformer, layer, joint_call(layer, 1, seed=1))
    controller.inject(pd_cond_rows=[0], mask=torch.ones(8, 12), omega=2.0)
    call = joint_call(other, 1, seed=2)
    assert torch.equal(controller.attend_joint(call), plain_joint_attention(call))


@pytest.mark.parametrize("chunk", [1024, 5], ids=["one-chunk", "chunked"])
def test_fd_equal_to_pd_at_omega_zero_is_attention_over_duplicated_image_keys(transformer, monkeypatch, chunk):
    monkeypatch.setattr("freecure_edit.attention.flux_controller.QUERY_CHUNK", chunk)
    layer = "single_transformer_blocks.3.attn.processor"
    call = joint_call(layer, 1, seed=3)
    controller = recorded_controller(transformer, layer, call)
    controller.inject(pd_cond_rows=[0], mask=torch.ones(8, 12), omega=0.0)

    out = controller.attend_joint(call)

    q, k, v = (t[0].transpose(0, 1) for t in (call.query, call.key, call.value))  # (H, S, D)
    keys = torch.cat([k, k[:, TEXT_TOKENS:]], dim=1)
    values = torch.cat([v, v[:, TEXT_TOKENS:]], dim=1)
    weights = (q[:, TEXT_TOKENS:] @ keys.transpose(1, 2) * HEAD_DIM**-0.5).softmax(-1)
    expected = (weights @ values).transpose(0, 1)
    assert torch.allclose(out[0, TEXT_TOKENS:], expected, atol=1e-5)


def test_an_empty_mask_is_plain_attention_bit_for_bit(transformer):
    layer = "single_transformer_blocks.3.attn.processor"
    controller = recorded_controller(transformer, layer, joint_call(layer, 1, seed=1))
    controller.inject(pd_cond_rows=[0], mask=torch.zeros(8, 12), omega=2.0)
    call = joint_call(layer, 1, seed=2)
    assert controller.fd_key_bias() is None
    assert torch.equal(controller.attend_joint(call), plain_joint_attention(call))


@pytest.mark.parametrize("latent", [(8, 12), (12, 8), (10, 6)])
def test_the_mask_lands_on_the_packed_tokens_it_covers(transformer, latent):
    # A latent that is non-zero exactly inside a region, packed 2x2 as the model sees it: the tokens
    # FASA lets through must be exactly the tokens that hold the region.
    height, width = latent
    mask = torch.zeros(height, width)
    mask[2:6, 4 % width:(4 % width) + 2] = 1.0  # whole 2x2 patches
    tokens = pack_latents(mask.expand(1, 16, height, width).contiguous())[0]
    holds_region = tokens.abs().amax(dim=-1) > 0

    controller = FluxAttentionController(transformer, ["single_transformer_blocks.0.attn.processor"], latent)
    controller.record(fd_cond_row=0)
    controller.step = 0
    layer = "single_transformer_blocks.0.attn.processor"
    generator = torch.Generator().manual_seed(0)
    size = (1, TEXT_TOKENS + height * width // 4, HEADS, HEAD_DIM)
    controller.attend_joint(JointAttentionCall(layer, None, *(torch.randn(size, generator=generator) for _ in range(3)), None))
    # The mask at 4x the latent resolution, as a parser gives it at pixel level.
    controller.inject([0], mask.repeat_interleave(4, 0).repeat_interleave(4, 1), omega=1.0)

    bias = controller.fd_key_bias()
    assert torch.equal(torch.isfinite(bias), holds_region)


def test_the_cached_fd_keys_are_rotated_as_pds_own(load_tiny):
    # FD and PD from the same latent and prompt: at omega 0 and a full mask, FASA must equal attention
    # over PD's keys with its image keys counted twice, which holds only if the cached FD keys carry
    # exactly PD's rotation (RoPE at the same positions).
    backbone = backbone_for(load_tiny("flux", "random"))
    layer = default_flux_fasa_layers(backbone.transformer)[-1]
    z = torch.randn(1, 16, 8, 12, generator=torch.Generator().manual_seed(0))
    rows = backbone.with_guidance(backbone.encode_prompt("a woman").cond, 3.5)
    errors = []

    class Checking(FluxAttentionController):
        def _fasa(self, call, policy):
            out = super()._fasa(call, policy)
            text = call.query.shape[1] - IMAGE_TOKENS
            q, k, v = (t[0].transpose(0, 1) for t in (call.query, call.key, call.value))
            keys, values = torch.cat([k, k[:, text:]], 1), torch.cat([v, v[:, text:]], 1)
            weights = (q[:, text:] @ keys.transpose(1, 2) * q.shape[-1] ** -0.5).softmax(-1)
            errors.append(float((out[0, text:] - (weights @ values).transpose(0, 1)).abs().max()))
            return out

    controller = Checking(backbone.transformer, [layer], LATENT)
    with controller.installed(), torch.no_grad():
        controller.step = 0
        controller.record(fd_cond_row=0)
        backbone.denoise(z, 500.0, rows)
        controller.inject([0], torch.ones(8, 12), omega=0.0)
        backbone.denoise(z, 500.0, rows)
    assert len(errors) == 1 and errors[0] < 1e-5


def test_the_installed_controller_in_passthrough_is_bit_identical(load_tiny):
    backbone = backbone_for(load_tiny("flux", "random"))
    z = torch.randn(1, 16, 8, 12, generator=torch.Generator().manual_seed(0))
    rows = backbone.with_guidance(backbone.encode_prompt("a woman").cond, 3.5)
    with torch.no_grad():
        expected = backbone.denoise(z, 700.0, rows)
        controller = FluxAttentionController(backbone.transformer, default_flux_fasa_layers(backbone.transformer), (8, 12))
        with controller.installed():
            controller.passthrough()
            routed = backbone.denoise(z, 700.0, rows)
        restored = backbone.denoise(z, 700.0, rows)
    assert torch.equal(routed, expected) and torch.equal(restored, expected)
    assert controller.calls == 2  # one double-stream and one single-stream block


def test_only_the_fasa_blocks_and_steps_are_cached(load_tiny):
    backbone = backbone_for(load_tiny("flux", "random"))
    controller, _ = flux_controller_for(backbone, CureConfig(steps=4), (8, 12))
    z = torch.randn(1, 16, 8, 12)
    rows = backbone.with_guidance(backbone.encode_prompt("a woman").cond, 3.5)
    with controller.installed(), torch.no_grad():
        controller.record(fd_cond_row=0, steps={2, 3})
        for step in range(4):
            controller.step = step
            backbone.denoise(z, 900.0 - 200 * step, rows)
    assert controller.cached_steps == {2, 3}
    # keys and values of 24 image tokens, 2 heads of 16, float32, one block, two steps
    assert controller.cache_bytes == 2 * (2 * IMAGE_TOKENS * HEADS * HEAD_DIM * 4)
    controller.release_cache()
    assert controller.cache_bytes == 0


def test_unknown_blocks_and_reinverting_apg_are_refused(load_tiny):
    backbone = backbone_for(load_tiny("flux", "random"))
    with pytest.raises(ConfigurationError, match="not an attention processor"):
        flux_controller_for(backbone, CureConfig(fasa_layers=("up_blocks.1.attn1.processor",)), (8, 8))
    with pytest.raises(ConfigurationError, match="reinvert"):
        flux_controller_for(backbone, CureConfig(apg="reinvert"), (8, 8))
