"""FASA's biased attention as pure tensor functions (FreeCure, step 6 of DESIGN.md).

PD's conditional queries attend over [K_pd, K_fd] with values [V_pd, V_fd]. FD's keys carry an additive
logit bias omega + log(m): inside a hard mask (m = 1) their weight is multiplied by e^omega, outside
(m = 0) it is exactly zero, and a soft mask scales the weight by m. PD's own keys carry no bias, so every
query always has finite logits and no softmax row is empty.
"""

from __future__ import annotations

import torch

from freecure_edit.attention.processor import plain_attention


def fd_key_bias(mask: torch.Tensor, omega: float) -> torch.Tensor:
    """omega + log(m) for each FD key; log(0) is -inf, which removes the key from the softmax."""
    return omega + torch.log(mask)


def fasa_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    fd_key: torch.Tensor,
    fd_value: torch.Tensor,
    fd_bias: torch.Tensor,
    slice_size: int | None = None,
    mix: float = 1.0,
) -> torch.Tensor:
    """Attention of PD queries over PD's and FD's keys, FD's shifted by `fd_bias`.

    mix in [0, 1] is the strength dial: the output is plain + mix (FASA - plain), which is the same as
    scaling FD's share of each query's attention by mix while PD's own keys share the rest in their plain
    proportions. A smaller bias could not do that: at omega 0.5 FD's keys took most of the attention even at
    a tenth of their weight, and a cure at strength 0.1 changed the toy world's drawings 63% as much as at 1.

    query, key, value: (rows, heads, positions, head_dim), PD's own; fd_key, fd_value: (1 or rows, heads,
    fd_positions, head_dim); fd_bias: (fd_positions,); slice_size as in `plain_attention`. Returns
    (rows, heads, positions, head_dim).
    """
    rows = query.shape[0]
    keys = torch.cat([key, fd_key.expand(rows, -1, -1, -1)], dim=2)
    values = torch.cat([value, fd_value.expand(rows, -1, -1, -1)], dim=2)
    own_bias = torch.zeros(key.shape[2], dtype=query.dtype, device=query.device)
    # One bias row broadcast over rows, heads and queries: a full (rows, heads, queries, keys) mask would
    # cost gigabytes at SD's 64x64 level.
    bias = torch.cat([own_bias, fd_bias.to(device=query.device, dtype=query.dtype)]).view(1, 1, 1, -1)
    out = plain_attention(query, keys, values, bias, slice_size)
    if mix >= 1.0:
        return out
    return torch.lerp(plain_attention(query, key, value, None, slice_size), out, mix)
