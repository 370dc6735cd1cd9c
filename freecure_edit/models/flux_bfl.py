"""Black Forest Labs' own FLUX.1 transformer layout (as `flux1-dev.safetensors` ships) -> diffusers' names.

diffusers converts this layout itself (`convert_flux_transformer_checkpoint_to_diffusers`), but with the
width of FLUX.1 written in (3072 channels, an MLP 4 times as wide): a fine-tune or distillation of
another width fails there on a split of the single blocks' fused projection. This converter reads the
widths from the tensors, so every width loads; the tests check it against diffusers' own on tensors of
FLUX.1's width.

BFL fuses what diffusers keeps apart: a double block's `img_attn.qkv` / `txt_attn.qkv` (Q, K, V stacked),
a single block's `linear1` (Q, K, V and the MLP's input stacked); its final modulation is (shift, scale)
where diffusers' AdaLayerNormContinuous is (scale, shift).
"""

from __future__ import annotations

import torch

_PREFIX = "model.diffusion_model."

# Top-level modules: BFL name -> diffusers name (each with .weight and .bias).
_TOP = {
    "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
    "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
    "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
    "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
    "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
    "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
    "txt_in": "context_embedder",
    "img_in": "x_embedder",
    "final_layer.linear": "proj_out",
}
# A double block's unfused parts (weight and bias), BFL -> diffusers, under the block's own prefix.
_DOUBLE = {
    "img_mod.lin": "norm1.linear",
    "txt_mod.lin": "norm1_context.linear",
    "img_attn.proj": "attn.to_out.0",
    "txt_attn.proj": "attn.to_add_out",
    "img_mlp.0": "ff.net.0.proj",
    "img_mlp.2": "ff.net.2",
    "txt_mlp.0": "ff_context.net.0.proj",
    "txt_mlp.2": "ff_context.net.2",
}
_DOUBLE_NORMS = {
    "img_attn.norm.query_norm.scale": "attn.norm_q.weight",
    "img_attn.norm.key_norm.scale": "attn.norm_k.weight",
    "txt_attn.norm.query_norm.scale": "attn.norm_added_q.weight",
    "txt_attn.norm.key_norm.scale": "attn.norm_added_k.weight",
}
_DOUBLE_QKV = {"img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
               "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj")}
_SINGLE = {"modulation.lin": "norm.linear", "linear2": "proj_out"}
_SINGLE_NORMS = {"norm.query_norm.scale": "attn.norm_q.weight", "norm.key_norm.scale": "attn.norm_k.weight"}
_SINGLE_FUSED = ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")  # linear1's rows, in this order


def is_bfl_layout(keys) -> bool:
    return any(key.startswith(("double_blocks.", "single_blocks.", _PREFIX + "double_blocks.")) for key in keys)


def bfl_to_diffusers(checkpoint: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict of a FluxTransformer2DModel from a BFL-layout one, of any width. A tensor the
    layout does not account for raises ValueError rather than being dropped."""
    state = {key.removeprefix(_PREFIX): value for key, value in checkpoint.items()}
    inner = state["img_in.weight"].shape[0]
    converted: dict[str, torch.Tensor] = {}

    def move(source: str, target: str) -> None:
        for suffix in (".weight", ".bias"):
            converted[target + suffix] = state.pop(source + suffix)

    for source, target in _TOP.items():
        if not source.startswith("guidance_in.") or source + ".weight" in state:  # schnell has no guidance
            move(source, target)
    for suffix in (".weight", ".bias"):
        shift, scale = state.pop("final_layer.adaLN_modulation.1" + suffix).chunk(2, dim=0)
        converted["norm_out.linear" + suffix] = torch.cat([scale, shift], dim=0)

    for i in _block_indices(state, "double_blocks."):
        source, target = f"double_blocks.{i}.", f"transformer_blocks.{i}."
        for part, name in _DOUBLE.items():
            move(source + part, target + name)
        for part, name in _DOUBLE_NORMS.items():
            converted[target + name] = state.pop(source + part)
        for fused, names in _DOUBLE_QKV.items():
            for suffix in (".weight", ".bias"):
                for name, piece in zip(names, state.pop(source + fused + suffix).chunk(3, dim=0)):
                    converted[target + name + suffix] = piece.contiguous()

    for i in _block_indices(state, "single_blocks."):
        source, target = f"single_blocks.{i}.", f"single_transformer_blocks.{i}."
        for part, name in _SINGLE.items():
            move(source + part, target + name)
        for part, name in _SINGLE_NORMS.items():
            converted[target + name] = state.pop(source + part)
        for suffix in (".weight", ".bias"):
            fused = state.pop(source + "linear1" + suffix)
            sizes = (inner, inner, inner, fused.shape[0] - 3 * inner)
            for name, piece in zip(_SINGLE_FUSED, fused.split(sizes, dim=0)):
                converted[target + name + suffix] = piece.contiguous()

    if state:
        raise ValueError(f"tensors the BFL FLUX layout does not have: {', '.join(sorted(state)[:3])}")
    return converted


def _block_indices(state: dict, prefix: str) -> list[int]:
    return sorted({int(key[len(prefix):].split(".", 1)[0]) for key in state if key.startswith(prefix)})
