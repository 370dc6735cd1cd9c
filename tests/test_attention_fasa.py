"""FASA's biased attention, checked against softmaxes worked out by hand."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from freecure_edit.attention.fasa import fasa_attention, fd_key_bias


def _column(values: list[float]) -> torch.Tensor:
    # (rows 1, heads 1, positions, head_dim 1): with head_dim 1 the softmax scale 1/sqrt(1) is 1.
    return torch.tensor(values, dtype=torch.float64).view(1, 1, -1, 1)


def test_four_tokens_match_a_softmax_worked_by_hand() -> None:
    # One query q = 1 over PD keys 0, 1 and FD keys 2, 3; FD key 2 inside the mask, FD key 3 outside.
    # Logits: 0, 1, 2 + omega, -inf; with omega = ln 2 the weights are 1, e, 2e^2, 0.
    query = _column([1.0])
    bias = fd_key_bias(torch.tensor([1.0, 0.0], dtype=torch.float64), math.log(2.0))
    pd_key, pd_value = _column([0.0, 1.0]), _column([10.0, 20.0])
    fd_key, fd_value = _column([2.0, 3.0]), _column([30.0, 40.0])
    out = fasa_attention(query, pd_key, pd_value, fd_key, fd_value, bias)
    e = math.e
    expected = (10 + 20 * e + 30 * 2 * e**2) / (1 + e + 2 * e**2)
    assert abs(out.item() - expected) < 1e-12


def test_a_soft_mask_scales_an_fd_weight_by_its_value() -> None:
    # omega 0 and m = 0.25 on the only FD key: weights 1 (PD key, logit 0) and 0.25 * e^1.
    query = _column([1.0])
    bias = fd_key_bias(torch.tensor([0.25], dtype=torch.float64), 0.0)
    out = fasa_attention(query, _column([0.0]), _column([4.0]), _column([1.0]), _column([8.0]), bias)
    weight_fd = 0.25 * math.e
    expected = (4.0 + 8.0 * weight_fd) / (1.0 + weight_fd)
    assert abs(out.item() - expected) < 1e-12


def test_the_bias_is_omega_plus_log_mask_and_minus_infinity_outside() -> None:
    bias = fd_key_bias(torch.tensor([1.0, 0.5, 0.0]), 1.5)
    assert torch.allclose(bias[:2], torch.tensor([1.5, 1.5 + math.log(0.5)]))
    assert bias[2].item() == -math.inf


def _random_heads(rows: int, positions: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(rows, 2, positions, 4, generator=generator)


def test_fd_equal_to_pd_at_omega_zero_is_attention_over_duplicated_keys() -> None:
    generator = torch.Generator().manual_seed(0)
    query, key, value = (_random_heads(2, 6, generator) for _ in range(3))
    out = fasa_attention(query, key, value, key[:1], value[:1], torch.zeros(6))
    keys = torch.cat([key, key[:1].expand(2, -1, -1, -1)], dim=2)
    values = torch.cat([value, value[:1].expand(2, -1, -1, -1)], dim=2)
    duplicated = F.scaled_dot_product_attention(query, keys, values)
    assert torch.allclose(out, duplicated, atol=1e-6)
    # Row 0's FD is its own stream, so duplicated keys leave its attention as it was.
    plain = F.scaled_dot_product_attention(query[:1], key[:1], value[:1])
    assert torch.allclose(out[:1], plain, atol=1e-6)


def test_masked_out_fd_keys_get_zero_weight() -> None:
    generator = torch.Generator().manual_seed(1)
    query, key, value = (_random_heads(1, 5, generator) for _ in range(3))
    fd_key, fd_value = _random_heads(1, 4, generator), _random_heads(1, 4, generator)
    bias = fd_key_bias(torch.tensor([1.0, 0.0, 0.5, 0.0]), 0.7)
    out = fasa_attention(query, key, value, fd_key, fd_value, bias)

    # Whatever the hidden FD keys hold, even huge keys and values, the output does not move.
    outside = [1, 3]
    fd_key[:, :, outside] = 1e4
    fd_value[:, :, outside] = 1e6
    assert torch.equal(fasa_attention(query, key, value, fd_key, fd_value, bias), out)
    # While a visible FD key does move it.
    fd_value[:, :, 0] += 1.0
    assert not torch.allclose(fasa_attention(query, key, value, fd_key, fd_value, bias), out)


def test_omega_raises_the_share_of_fd_values() -> None:
    # PD values 0, FD values 1: the output is FD's total weight, which grows with omega as e^w / (n + e^w).
    query = torch.zeros(1, 1, 1, 2)
    key, fd_key = torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 1, 2)
    value, fd_value = torch.zeros(1, 1, 3, 2), torch.ones(1, 1, 1, 2)
    shares = []
    for omega in (0.0, 1.5):
        out = fasa_attention(query, key, value, fd_key, fd_value, fd_key_bias(torch.ones(1), omega))
        shares.append(out.flatten()[0].item())
    assert abs(shares[0] - 1 / 4) < 1e-6
    assert abs(shares[1] - math.exp(1.5) / (3 + math.exp(1.5))) < 1e-6


def test_mix_scales_fds_share_of_the_attention_and_keeps_pds_proportions() -> None:
    # PD keys 0, 1 (weights 1, e), FD key 2 with omega 0 (weight e^2). FD's share at mix 1 is
    # p = e^2 / (1 + e + e^2); at mix s it must be s p, with PD's keys sharing 1 - s p as 1 : e.
    query = _column([1.0])
    bias = fd_key_bias(torch.tensor([1.0], dtype=torch.float64), 0.0)
    pd_key, fd_key = _column([0.0, 1.0]), _column([2.0])
    e = math.e
    p = e**2 / (1 + e + e**2)
    for mix in (0.0, 0.1, 0.5, 1.0):
        share_fd = fasa_attention(query, pd_key, _column([0.0, 0.0]), fd_key, _column([1.0]), bias, mix=mix)
        share_pd0 = fasa_attention(query, pd_key, _column([1.0, 0.0]), fd_key, _column([0.0]), bias, mix=mix)
        assert abs(share_fd.item() - mix * p) < 1e-12
        assert abs(share_pd0.item() - (1 - mix * p) / (1 + e)) < 1e-12
