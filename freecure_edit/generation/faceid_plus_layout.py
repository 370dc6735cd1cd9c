"""IP-Adapter FaceID Plus / PlusV2 weights in the flat single-file layout diffusers' `load_ip_adapter` reads.

Plus differs from plain FaceID in its image projection only: IP-Adapter's FacePerceiverResampler, which
turns the identity embedding into 4 tokens (`proj`, `norm`) and refines them by attending to CLIP image
features of the reference (`perceiver_resampler.*`, 4 blocks of 64-wide heads); PlusV2 adds the tokens
of the identity back at the end (diffusers' `shortcut`). The cross-attention weights and the LoRA are
plain FaceID's (`faceid_layout.py`). Names are IP-Adapter's own, as its `.bin` files hold them; diffusers
renames them on loading (`_convert_ip_adapter_image_proj_to_diffusers`), so a file written here loads
exactly as a downloaded one does.
"""

from __future__ import annotations

import torch

from freecure_edit.generation.faceid_layout import faceid_state_dict

DEPTH = 4  # diffusers builds the resampler with 4 blocks whatever the file holds
DIM_HEAD = 64  # and reads the heads as to_q rows // 64
TOKENS = 4


def faceid_plus_shapes(id_dim: int, clip_dim: int, cross_dim: int, embed_dims: int, heads: int) -> dict[str, tuple]:
    """Every `image_proj.` tensor of a Plus file and its shape."""
    inner = DIM_HEAD * heads
    shapes = {
        "proj.0.weight": (2 * id_dim, id_dim), "proj.0.bias": (2 * id_dim,),
        "proj.2.weight": (TOKENS * embed_dims, 2 * id_dim), "proj.2.bias": (TOKENS * embed_dims,),
        "norm.weight": (embed_dims,), "norm.bias": (embed_dims,),
        "perceiver_resampler.proj_in.weight": (embed_dims, clip_dim),
        "perceiver_resampler.proj_in.bias": (embed_dims,),
        "perceiver_resampler.proj_out.weight": (cross_dim, embed_dims),
        "perceiver_resampler.proj_out.bias": (cross_dim,),
        "perceiver_resampler.norm_out.weight": (cross_dim,), "perceiver_resampler.norm_out.bias": (cross_dim,),
    }
    for i in range(DEPTH):
        block = f"perceiver_resampler.layers.{i}"
        shapes.update({
            f"{block}.0.norm1.weight": (embed_dims,), f"{block}.0.norm1.bias": (embed_dims,),
            f"{block}.0.norm2.weight": (embed_dims,), f"{block}.0.norm2.bias": (embed_dims,),
            f"{block}.0.to_q.weight": (inner, embed_dims),
            f"{block}.0.to_kv.weight": (2 * inner, embed_dims),
            f"{block}.0.to_out.weight": (embed_dims, inner),
            f"{block}.1.0.weight": (embed_dims,), f"{block}.1.0.bias": (embed_dims,),
            f"{block}.1.1.weight": (4 * embed_dims, embed_dims),
            f"{block}.1.3.weight": (embed_dims, 4 * embed_dims),
        })
    return shapes


def faceid_plus_state_dict(unet, id_dim: int, clip_dim: int, *, embed_dims: int = 32, heads: int = 1,
                           lora_rank: int = 4, seed: int = 0, zero_lora_up: bool = True) -> dict[str, torch.Tensor]:
    """A random FaceID Plus state dict for `unet` (flat keys), taking an identity embedding of `id_dim`
    numbers and CLIP features `clip_dim` wide. Layer norms start at weight 1, bias 0."""
    state = {k: v for k, v in faceid_state_dict(unet, id_dim, lora_rank=lora_rank, seed=seed,
                                                zero_lora_up=zero_lora_up).items()
             if not k.startswith("image_proj.")}
    generator = torch.Generator().manual_seed(seed + 1)
    cross_dim = int(unet.config.cross_attention_dim)
    for name, shape in faceid_plus_shapes(id_dim, clip_dim, cross_dim, embed_dims, heads).items():
        is_norm = ".norm" in f".{name}" or name.endswith((".1.0.weight", ".1.0.bias"))
        if is_norm:
            value = torch.ones(shape) if name.endswith("weight") else torch.zeros(shape)
        else:
            value = torch.randn(shape, generator=generator) / max(shape[-1], 1) ** 0.5
        state[f"image_proj.{name}"] = value
    return state
