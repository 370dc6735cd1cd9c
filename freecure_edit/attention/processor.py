"""One attention processor for every layer: diffusers' math, with the attention product left to a router.

`ControlledAttnProcessor` is diffusers' `AttnProcessor2_0` step for step (spatial and group norm, 4-D
inputs, residual connection, output rescaling, `to_out`), so a router that answers with plain attention
gives bit-identical results. Only the product softmax(QK^T)V is handed over, together with the layer's
name, its kind and the projections, so that the router alone decides what FASA and map capture do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AttentionCall:
    """One layer's attention, ready to be computed.

    query, key, value: (batch, heads, positions, head_dim), after any query/key norms.
    key_projection, value_projection: (batch, positions, channels), before the head split.
    attention_mask: additive, (batch, heads, queries or 1, keys), as scaled_dot_product_attention takes it.
    """

    name: str
    is_cross: bool
    attn: torch.nn.Module
    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    key_projection: torch.Tensor
    value_projection: torch.Tensor
    attention_mask: torch.Tensor | None


class AttentionRouter(Protocol):
    def attend(self, call: AttentionCall) -> torch.Tensor:
        """Attention output of `call`, shaped like its query."""
        ...


def split_heads(attn: torch.nn.Module, projection: torch.Tensor) -> torch.Tensor:
    """(batch, positions, channels) -> (batch, heads, positions, head_dim)."""
    batch, _, channels = projection.shape
    return projection.view(batch, -1, attn.heads, channels // attn.heads).transpose(1, 2)


def keys_and_values(
    attn: torch.nn.Module, key_projection: torch.Tensor, value_projection: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys and values in heads, with the layer's key norm: one place, so cached FD keys match PD's."""
    key = split_heads(attn, key_projection)
    if attn.norm_k is not None:
        key = attn.norm_k(key)
    return key, split_heads(attn, value_projection)


def plain_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
    )


class ControlledAttnProcessor:
    def __init__(self, name: str, router: AttentionRouter) -> None:
        # diffusers does not tell a processor which layer it serves, so it is built knowing.
        self.name = name
        self.router = router

    # The arguments are named, not **kwargs: Attention.forward drops any keyword the signature lacks.
    def __call__(
        self,
        attn: torch.nn.Module,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        is_cross = encoder_hidden_states is not None
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)

        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)

        batch_size, sequence_length, _ = (
            hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        )
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])

        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query_projection = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key_projection = attn.to_k(encoder_hidden_states)
        value_projection = attn.to_v(encoder_hidden_states)

        query = split_heads(attn, query_projection)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        key, value = keys_and_values(attn, key_projection, value_projection)

        call = AttentionCall(
            self.name, is_cross, attn, query, key, value, key_projection, value_projection, attention_mask
        )
        hidden_states = self.router.attend(call)

        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * query.shape[-1])
        hidden_states = hidden_states.to(query.dtype)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)

        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor
