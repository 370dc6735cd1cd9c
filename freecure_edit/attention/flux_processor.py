"""One processor for every FLUX attention layer: diffusers' FluxAttnProcessor with the product routed.

Double-stream blocks project text and image tokens separately and attend jointly; single-stream blocks
get the joint sequence already concatenated. In both, the sequence is [text tokens, image tokens],
queries and keys are RMS-normed and RoPE-rotated before the product. `FluxControlledProcessor` does
exactly what FluxAttnProcessor does (diffusers 0.42) and hands the rotated (B, S, H, D) tensors to a
router, so a router that answers with `plain_joint_attention` gives bit-identical results, and keys
cached by a router are rotated exactly as the queries that will meet them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class JointAttentionCall:
    """One FLUX layer's joint attention, ready to be computed.

    query, key, value: (batch, sequence, heads, head_dim), text tokens first, after norms and RoPE.
    """

    name: str
    attn: torch.nn.Module
    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    attention_mask: torch.Tensor | None


class JointAttentionRouter(Protocol):
    def attend_joint(self, call: JointAttentionCall) -> torch.Tensor:
        """Attention output of `call`, shaped like its query."""
        ...


def plain_joint_attention(call: JointAttentionCall) -> torch.Tensor:
    """What FluxAttnProcessor computes, through the same dispatcher."""
    from diffusers.models.attention_dispatch import dispatch_attention_fn

    return dispatch_attention_fn(call.query, call.key, call.value, attn_mask=call.attention_mask)


def _projections(attn, hidden_states, encoder_hidden_states):
    if getattr(attn, "fused_projections", False):
        raise RuntimeError("FreeCure's FLUX processor needs unfused projections; call unfuse_qkv_projections()")
    query, key, value = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
    if encoder_hidden_states is None or attn.added_kv_proj_dim is None:
        return query, key, value, None
    text = (attn.add_q_proj(encoder_hidden_states), attn.add_k_proj(encoder_hidden_states),
            attn.add_v_proj(encoder_hidden_states))
    return query, key, value, text


class FluxControlledProcessor:
    def __init__(self, name: str, router: JointAttentionRouter) -> None:
        self.name = name
        self.router = router

    # Named arguments only: FluxAttention.forward drops keywords the signature lacks.
    def __call__(
        self,
        attn: torch.nn.Module,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ):
        from diffusers.models.embeddings import apply_rotary_emb

        query, key, value, text = _projections(attn, hidden_states, encoder_hidden_states)
        query = attn.norm_q(query.unflatten(-1, (-1, attn.head_dim)))
        key = attn.norm_k(key.unflatten(-1, (-1, attn.head_dim)))
        value = value.unflatten(-1, (-1, attn.head_dim))
        if text is not None:
            text_query, text_key, text_value = (t.unflatten(-1, (-1, attn.head_dim)) for t in text)
            query = torch.cat([attn.norm_added_q(text_query), query], dim=1)
            key = torch.cat([attn.norm_added_k(text_key), key], dim=1)
            value = torch.cat([text_value, value], dim=1)
        if image_rotary_emb is not None:
            query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)

        call = JointAttentionCall(self.name, attn, query, key, value, attention_mask)
        hidden_states = self.router.attend_joint(call).flatten(2, 3).to(query.dtype)

        if encoder_hidden_states is None:
            return hidden_states
        text_length = encoder_hidden_states.shape[1]
        text_out, image_out = hidden_states.split_with_sizes(
            [text_length, hidden_states.shape[1] - text_length], dim=1
        )
        image_out = attn.to_out[1](attn.to_out[0](image_out.contiguous()))
        return image_out, attn.to_add_out(text_out.contiguous())
