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
    slice_size: with attention slicing, how many (batch row, head) pairs to attend at a time; None: all.
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
    slice_size: int | None = None


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
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    slice_size: int | None = None,
) -> torch.Tensor:
    """softmax(QK^T / sqrt(d) + mask) V over (batch, heads, positions, head_dim) tensors.

    With `slice_size`, (batch row, head) pairs are attended `slice_size` at a time, as diffusers'
    attention slicing does, so that only one slice's attention matrix exists at once.
    """
    if slice_size is None or slice_size >= query.shape[0] * query.shape[1]:
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )
    batch, heads = query.shape[:2]
    flat = [t.expand(batch, heads, *t.shape[2:]).reshape(batch * heads, *t.shape[2:]) for t in (query, key, value)]
    mask = None
    if attention_mask is not None:
        mask = attention_mask.expand(batch, heads, *attention_mask.shape[2:])
        mask = mask.reshape(batch * heads, *mask.shape[2:])
    out = torch.empty_like(flat[0][..., : value.shape[-1]])
    for start in range(0, batch * heads, slice_size):
        part = slice(start, start + slice_size)
        out[part] = F.scaled_dot_product_attention(
            flat[0][part], flat[1][part], flat[2][part], attn_mask=None if mask is None else mask[part],
            dropout_p=0.0, is_causal=False,
        )
    return out.view(batch, heads, *out.shape[1:])


class PlainRouter:
    """A router that always answers with plain attention: the cure's processor, doing nothing else."""

    def attend(self, call: AttentionCall) -> torch.Tensor:
        return plain_attention(call.query, call.key, call.value, call.attention_mask, call.slice_size)


def slice_size_of(processor: object) -> int | None:
    """The slice size of diffusers' attention slicing (SlicedAttnProcessor), None for other processors."""
    size = getattr(processor, "slice_size", None)
    return int(size) if isinstance(size, int) and size > 0 else None


class ControlledAttnProcessor:
    def __init__(self, name: str, router: AttentionRouter, slice_size: int | None = None) -> None:
        # diffusers does not tell a processor which layer it serves, so it is built knowing.
        self.name = name
        self.router = router
        # Kept from the processor this one replaces, so that attention slicing still saves memory.
        self.slice_size = slice_size

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
            self.name, is_cross, attn, query, key, value, key_projection, value_projection, attention_mask,
            self.slice_size,
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
